/**
 * The prompts this tool uses, each from its own package, so the bundle holds
 * only these: @inquirer/prompts (imported dynamically, so kept whole) brought
 * in its editor prompt and the editor's character encodings, half a megabyte
 * of the bundle that every command read at start-up.
 */
export {default as confirm} from '@inquirer/confirm'
export {default as input} from '@inquirer/input'
export {default as password} from '@inquirer/password'
export {default as search} from '@inquirer/search'
export {default as select, Separator} from '@inquirer/select'
