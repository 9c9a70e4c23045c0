using System.Diagnostics.CodeAnalysis;

namespace GatewayBridge.Validation;

internal static class Rules
{
    public static void Check([DoesNotReturnIf(false)] bool condition, string rule, string message)
    {
        if (!condition)
        {
            throw new GatewayValidationException(rule, message);
        }
    }
}
