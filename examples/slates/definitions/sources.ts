/** The catalog, a table another system keeps (examples/slates/catalog.ts writes it into the DuckDB file). */
import { source } from 'flywheel';

export const items = source({
  name: 'items',
  table: 'items',
  timestampField: 'listed_at',
  columns: { item_id: 'int64', category: 'string', rating: 'float64', price: 'float64', listed_at: 'timestamp' },
  description: 'One row per item: its category, its average review rating (1 to 5) and its price, as listed.',
  owner: 'catalog@shop.example',
});
