/**
 * Read a secret from stdin: the first line of piped input, or a masked
 * prompt on a terminal. Never echoed, never logged.
 */
import {isInteractive} from './prompts.js'

export async function readSecret(label: string): Promise<string> {
  if (process.stdin.isTTY) {
    if (!isInteractive()) return ''
    const {password} = await import('@inquirer/prompts')
    return (await password({message: label, mask: '*'}, {output: process.stderr})).trim()
  }
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0].trim()
}
