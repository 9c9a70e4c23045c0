
namespace GatewayBridge;

/// <summary>
/// A conformance checker for gateway apps and servers, after CPython's <c>wsgiref.validate</c>.
/// </summary>
public static class GatewayValidator
{
    /// <summary>
    /// Wraps <paramref name="app"/> so that both sides of every call are checked against the gateway interface:
    /// the environ the server passes, and the app's use of status, headers, <c>excInfo</c>, the write callable,
    /// the iterable and its disposal, <c>wsgi.input</c> and <c>wsgi.errors</c>. A violation throws
    /// <see cref="GatewayValidationException"/> naming the rule.
    /// </summary>
    /// <param name="app">The app to check.</param>
    /// <returns>An app that behaves as <paramref name="app"/> does while it follows the rules.</returns>
    public static GatewayApp Wrap(GatewayApp app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return (environ, startResponse) =>
        {
            Rules.Check(environ is not null, RuleIds.EnvironType, "the server passed a null environ.");
            Rules.Check(startResponse is not null, RuleIds.StartResponseType, "the server passed a null start_response.");
            EnvironRules.Check(environ!);

            environ![Environ.Input] = new ValidatedInput((Stream)environ[Environ.Input]!);
            environ[Environ.Errors] = new ValidatedErrors((TextWriter)environ[Environ.Errors]!);

            var call = new ValidatedCall(startResponse!);
            var result = app(environ, call.StartResponse);
            Rules.Check(result is not null, RuleIds.IterableNull, "the app returned null; return an empty array for an empty body.");
            return call.Wrap(result!);
        };
    }
}
