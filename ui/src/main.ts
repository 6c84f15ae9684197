/**
 * The page's entry, kept tiny: it takes the token from the address, starts the API calls the first
 * page needs (the header's project and, on the Loop page, the loop), then loads the app (React and
 * the pages, app.tsx; the HTML preloads it). The server computes the answers while the browser
 * compiles the app, instead of after.
 */
import { captureTokenFromAddress, prefetchJson } from './fetch-api.ts';
import './styles.css';

captureTokenFromAddress();
prefetchJson('/api/project');
if (['/', '/loop'].includes(window.location.pathname)) prefetchJson('/api/loop');
void import('./app.tsx');
