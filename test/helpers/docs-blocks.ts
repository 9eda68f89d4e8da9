/**
 * The shell blocks of the project's Markdown, as the docs test runs them.
 *
 * A block is a fenced code block whose info string is `sh`, `bash` or `shell`
 * (its lines run as written) or `cron` (each entry's command: the five
 * schedule fields, or one `@daily`-style word, dropped, and in a system
 * crontab, `/etc/cron.d/…` or `/etc/crontab`, the user field after them).
 * Fences may be indented (inside a list item); the indentation is removed.
 *
 * A block that cannot run on a fresh embedded database in a scratch HOME says
 * why in an HTML comment on the line before its fence (blank lines between
 * allowed), which Markdown renderers do not show:
 *
 *   <!-- docs-test: needs-server: the API server's URL is a placeholder -->
 *
 * Kinds: `needs-server` (an OpenMemory server, a server host's files or a
 * mail system), `needs-terminal` (a question answered at a terminal),
 * `project` (commands of the checkout itself: npm ci, npm test, benchmarks;
 * .ci/run runs those). A reason is required; an unknown kind is an error, so
 * a misspelt marker cannot skip a block silently.
 */
export const SKIP_KINDS = ['needs-server', 'needs-terminal', 'project'] as const
export type SkipKind = (typeof SKIP_KINDS)[number]

export interface DocBlock {
  file: string
  /** 1-based line of the opening fence. */
  line: number
  lang: 'sh' | 'cron'
  /** What the shell runs: the block's text, or a cron block's commands, one per line. */
  script: string
  skip?: {kind: SkipKind; reason: string}
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/
const MARKER = /^\s*<!--\s*docs-test:\s*([\w-]+)\s*:?\s*(.*?)\s*-->\s*$/

/** A cron entry's command: schedule fields (and a system crontab's user) dropped. */
export function cronCommand(entry: string, systemCrontab: boolean): string | undefined {
  const line = entry.trim()
  if (line === '' || line.startsWith('#')) return undefined
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) return line // an environment line of the crontab
  const fields = line.split(/\s+/)
  const scheduleFields = fields[0]?.startsWith('@') ? 1 : 5
  const skip = scheduleFields + (systemCrontab ? 1 : 0)
  if (fields.length <= skip) throw new Error(`cron entry without a command: ${line}`)
  // The command is the rest of the line as written (its own spacing kept).
  let rest = line
  for (let i = 0; i < skip; i++) rest = rest.replace(/^\S+\s+/, '')
  // cron turns an unescaped % into a newline; the docs escape it as \%.
  return rest.replace(/\\%/g, '%')
}

export function extractBlocks(file: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n')
  const blocks: DocBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string)
    if (!open) continue
    const [, indent = '', fence = '```', info = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const l = lines[j] as string
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, '') === '') break
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())
    }
    const lang = ['sh', 'bash', 'shell'].includes(info) ? 'sh' : info === 'cron' ? 'cron' : undefined
    if (lang) {
      let k = i - 1
      while (k >= 0 && (lines[k] as string).trim() === '') k--
      const marker = k >= 0 ? MARKER.exec(lines[k] as string) : null
      let skip: DocBlock['skip']
      if (marker) {
        const [, kind = '', reason = ''] = marker
        if (!(SKIP_KINDS as readonly string[]).includes(kind))
          throw new Error(
            `${file}:${k + 1}: unknown docs-test marker "${kind}" (known: ${SKIP_KINDS.join(', ')})`,
          )
        if (reason === '') throw new Error(`${file}:${k + 1}: docs-test marker "${kind}" without a reason`)
        skip = {kind: kind as SkipKind, reason}
      }
      let script = body.join('\n')
      if (lang === 'cron') {
        const system = body.some((l) => /\/etc\/cron\.d\/|\/etc\/crontab/.test(l))
        script = body
          .map((l) => cronCommand(l, system))
          .filter((c): c is string => c !== undefined)
          .join('\n')
      }
      blocks.push({file, line: i + 1, lang, script, ...(skip ? {skip} : {})})
    }
    i = j
  }
  return blocks
}
