using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GatewayBridge.TestSupport;

/// <summary>A plain TCP connection to Kestrel, for what HttpClient would hide: raw bytes, framing, closes.</summary>
public sealed class RawConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <param name="port">The server's loopback port.</param>
    /// <param name="receiveBuffer">A small size makes the server wait for this client to read (backpressure).</param>
    public static RawConnection Open(int port, int? receiveBuffer = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer is int size)
        {
            socket.ReceiveBufferSize = size;
        }

        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return new RawConnection(socket);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Reads until the server closes the connection (or the timeout passes); says which happened.</summary>
    public async Task<(string Text, bool Closed)> ReadToCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var read = await _stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    return (Encoding.Latin1.GetString(received.ToArray()), true);
                }

                received.Write(buffer, 0, read);
            }
        }
        catch (OperationCanceledException)
        {
            return (Encoding.Latin1.GetString(received.ToArray()), false);
        }
        catch (IOException)
        {
            // A reset after the bytes arrived: the connection is closed all the same.
            return (Encoding.Latin1.GetString(received.ToArray()), true);
        }
    }

    /// <summary>Reads until <paramref name="text"/> has been received at least <paramref name="count"/> times.</summary>
    public async Task<string> ReadUntilAsync(string text, int count = 1, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var received = new StringBuilder();
        var buffer = new byte[8192];
        while (Occurrences(received.ToString(), text) < count)
        {
            var read = await _stream.ReadAsync(buffer, cts.Token);
            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        return received.ToString();
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes arrived, the server closed, or the timeout passed.</summary>
    public async Task<int> ReadAtLeastAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _stream.ReadAtLeastAsync(new byte[Math.Max(count, 1)], count, throwOnEndOfStream: false, cts.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed, timed out, or abandoned by a caller that stopped waiting and disposed the connection.
            return 0;
        }
    }

    public void Dispose() => _stream.Dispose();

    private static int Occurrences(string haystack, string needle)
    {
        var n = 0;
        for (var i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }
}
