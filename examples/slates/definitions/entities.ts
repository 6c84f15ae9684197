/** What the ranking features describe: the person asking for a slate, and each item that may be in it. */
import { entity } from 'flywheel';

export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' }, description: 'A signed-in user of the app.' });

export const item = entity({ name: 'item', joinKeys: { item_id: 'int64' }, description: 'An item of the catalog.' });
