import v8 from 'node:v8';

/**
 * Regexes that come from log-opts or the pipeline file run on every line of a container, and
 * anyone who can `docker run` writes them. V8's backtracking engine can take exponential time on a
 * pattern such as `(a+)+$`, which would stall the event loop and with it every other container.
 *
 * V8 also has a linear-time engine (no backtracking). With this flag a regex that backtracks more
 * than a threshold is re-run on it, so ordinary patterns keep the fast engine and pathological ones
 * stay linear. It can only take over for patterns it supports (no backreferences, no lookaround),
 * so such patterns are refused up front: compiling with the `l` flag checks exactly that.
 */
v8.setFlagsFromString('--enable-experimental-regexp-engine');
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

export class UnsafeRegexError extends Error {
  override name = 'UnsafeRegexError';
}

/**
 * Compiles a user pattern. `where` names the option or file path in the error message, e.g.
 * `log opt filter-exclude` or `pipeline.yaml: rules[0].filters[1].pattern`.
 */
export function compileSafeRegex(pattern: string, flags: string, where: string): RegExp {
  try {
    new RegExp(pattern, flags.replace(/[gy]/g, '') + 'l');
  } catch (err) {
    const message = (err as Error).message;
    if (/linear time/.test(message) && /[iu]/.test(flags)) {
      // Node 20's linear engine runs neither /i nor /u (src/filters/options.ts folds case instead).
      throw new UnsafeRegexError(`${where}: the ${flags.includes('u') ? 'u' : 'i'} flag cannot run in linear time here (use a case-folded pattern such as [hH]ealth)`);
    }
    if (/linear time/.test(message)) {
      throw new UnsafeRegexError(
        `${where}: pattern ${JSON.stringify(pattern)} uses backreferences or lookaround, which cannot run in linear time (logfan refuses patterns that could stall the plugin)`,
      );
    }
    throw new UnsafeRegexError(`${where}: invalid regular expression ${JSON.stringify(pattern)}: ${message.replace(/^Invalid regular expression: /, '')}`);
  }
  return new RegExp(pattern, flags);
}
