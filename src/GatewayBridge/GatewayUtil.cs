namespace GatewayBridge;

/// <summary>
/// Helpers for gateway apps and servers, after CPython's <c>wsgiref.util</c>.
/// </summary>
public static class GatewayUtil
{
    /// <summary>
    /// Whether <paramref name="headerName"/> is a hop-by-hop header (RFC 9110 section 7.6.1), which only the server may send.
    /// </summary>
    /// <param name="headerName">A header name, in any case.</param>
    /// <returns><see langword="true"/> for <c>Connection</c>, <c>Keep-Alive</c>, <c>Proxy-Authenticate</c>,
    /// <c>Proxy-Authorization</c>, <c>TE</c>, <c>Trailers</c>, <c>Transfer-Encoding</c> and <c>Upgrade</c>.</returns>
    public static bool IsHopByHop(string headerName)
    {
        ArgumentNullException.ThrowIfNull(headerName);
        return headerName.Length switch
        {
            2 => headerName.Equals("TE", StringComparison.OrdinalIgnoreCase),
            7 => headerName.Equals("Upgrade", StringComparison.OrdinalIgnoreCase),
            8 => headerName.Equals("Trailers", StringComparison.OrdinalIgnoreCase),
            10 => headerName.Equals("Connection", StringComparison.OrdinalIgnoreCase) ||
                  headerName.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase),
            17 => headerName.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase),
            18 => headerName.Equals("Proxy-Authenticate", StringComparison.OrdinalIgnoreCase),
            19 => headerName.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase),
            _ => false,
        };
    }
}
