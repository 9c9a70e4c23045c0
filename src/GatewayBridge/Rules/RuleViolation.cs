namespace GatewayBridge;

/// <summary>A rule of the gateway interface that a value breaks: the rule's id and what to do instead.</summary>
internal readonly record struct RuleViolation(string Rule, string Message);
