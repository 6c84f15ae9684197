/**
 * Configuration of the slates example: a recommender that ranks ~20 candidate items per request.
 * `local` runs everything on this machine (DuckDB file, local folder, SQLite, a Temporal dev server);
 * its own task queue keeps its workflows apart from the card-fraud example's on a shared server.
 */
import { defineConfig, localProfile } from 'flywheel';

export default defineConfig({
  project: 'slates',
  definitions: './definitions',
  defaultProfile: 'local',
  profiles: {
    local: localProfile({ taskQueue: 'slates' }),
  },
});
