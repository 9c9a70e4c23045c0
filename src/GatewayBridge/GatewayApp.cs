namespace GatewayBridge;

/// <summary>
/// A gateway application: receives the request as an <c>environ</c> dictionary, calls
/// <paramref name="startResponse"/> with the status and headers, and returns the body as a sequence of byte chunks.
/// </summary>
/// <param name="environ">The request: CGI-style keys plus <c>wsgi.*</c> keys; see <see cref="Environ"/>.</param>
/// <param name="startResponse">Called once with the status and headers (again only with an exception).</param>
/// <returns>The response body. It is disposed when the response ends, as PEP 3333's <c>close()</c>.</returns>
public delegate IEnumerable<byte[]> GatewayApp(IDictionary<string, object?> environ, StartResponse startResponse);

/// <summary>
/// Begins the response: a status such as <c>"200 OK"</c> and the response headers.
/// </summary>
/// <param name="status">Three digits, a space, and a reason phrase.</param>
/// <param name="headers">The response headers as (name, value) pairs; hop-by-hop headers are not allowed.</param>
/// <param name="excInfo">
/// The exception that made the app change its response. Once headers are sent, the server rethrows it.
/// </param>
/// <returns>A legacy write callable that sends a body chunk ahead of the returned iterable.</returns>
public delegate WriteBody StartResponse(string status, IList<(string Name, string Value)> headers, Exception? excInfo = null);

/// <summary>
/// The write callable returned by <see cref="StartResponse"/>: sends <paramref name="data"/> as part of the body.
/// </summary>
/// <param name="data">The bytes to send. The server copies them before it returns.</param>
public delegate void WriteBody(byte[] data);
