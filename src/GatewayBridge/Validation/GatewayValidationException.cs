namespace GatewayBridge;

/// <summary>
/// Thrown by <see cref="GatewayValidator"/> when an app or a server breaks a rule of the gateway interface.
/// </summary>
public sealed class GatewayValidationException : Exception
{
    /// <summary>Creates the exception for a broken rule.</summary>
    /// <param name="rule">The rule's identifier, such as <c>headers.hop-by-hop</c>.</param>
    /// <param name="message">What was wrong and what to do instead.</param>
    public GatewayValidationException(string rule, string message)
        : base($"Gateway rule '{rule}' broken: {message}")
    {
        Rule = rule;
    }

    /// <summary>Creates the exception with no rule.</summary>
    public GatewayValidationException()
        : this("unspecified", "no detail")
    {
    }

    /// <summary>Creates the exception with no rule.</summary>
    /// <param name="message">The message.</param>
    public GatewayValidationException(string message)
        : this("unspecified", message)
    {
    }

    /// <summary>Creates the exception with no rule.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public GatewayValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Rule = "unspecified";
    }

    /// <summary>The identifier of the broken rule, such as <c>status.format</c>; the README lists them all.</summary>
    public string Rule { get; }
}
