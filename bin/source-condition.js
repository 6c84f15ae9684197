// Module resolution hook used in a source checkout only (bin/flywheel.js registers it): adds the
// `flywheel-source` condition, under which package.json exports `flywheel` as ./index.ts.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'flywheel-source'] });
}
