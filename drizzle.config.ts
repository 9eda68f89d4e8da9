import {defineConfig} from 'drizzle-kit'

// `npm run db:generate` writes SQL migrations into drizzle/ from src/db/schema.ts.
// Generated files are then hand-checked so they only ever add what is missing
// (see drizzle/README.md): the server owns its tables, the tool only adopts them.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  migrations: {schema: 'openmemory_admin', table: 'migrations'},
})
