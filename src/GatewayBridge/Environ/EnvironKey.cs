namespace GatewayBridge;

/// <summary>One environ key: its name and how its value is read from the request being served.</summary>
/// <param name="Name">The key.</param>
/// <param name="Read">Reads and formats the value; <see langword="null"/> when the request has none.</param>
internal sealed record EnvironKey(string Name, Func<EnvironSource, object?> Read);
