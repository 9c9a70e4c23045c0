using System.Diagnostics.CodeAnalysis;

namespace GatewayBridge;

internal static class Rules
{
    public static void Check([DoesNotReturnIf(false)] bool condition, string rule, string message)
    {
        if (!condition)
        {
            throw new GatewayValidationException(rule, message);
        }
    }

    /// <summary>Throws for a violation found by the server's own checks, under the same rule id.</summary>
    public static void Check(RuleViolation? violation)
    {
        if (violation is { } v)
        {
            throw new GatewayValidationException(v.Rule, v.Message);
        }
    }
}
