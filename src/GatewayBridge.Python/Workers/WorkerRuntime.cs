using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Where a host's worker processes start from and connect to: a private folder (mode 0700) holding the shim's modules
/// and the Unix socket, and the check every connection to that socket must pass before it counts as a worker's: its
/// first frame is a Hello with the secret of a worker this host started, from that worker's pid as the kernel reports
/// it (<c>SO_PEERCRED</c>), in this host's version of the protocol.
/// </summary>
internal sealed class WorkerRuntime : IDisposable
{
    private readonly ConcurrentDictionary<string, Expected> _expected = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly DirectoryInfo _folder;
    private readonly Socket _listener;
    private readonly ILogger _logger;

    public WorkerRuntime(PythonInstallation installation, ILogger logger)
    {
        Installation = installation;
        _logger = logger;

        // mkdtemp: a folder only this user can open, so nobody else can reach the socket or the shim modules.
        _folder = Directory.CreateTempSubdirectory("gatewaybridge-");
        WorkerScript = PythonShim.Write(_folder.FullName);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(64);
        _ = AcceptAsync();
    }

    public PythonInstallation Installation { get; }

    public string Folder => _folder.FullName;

    public string SocketPath => Path.Combine(Folder, "workers.sock");

    public string WorkerScript { get; }

    /// <summary>The secret a worker checks the host's answer against, so that it serves no one else.</summary>
    public string HostToken { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    /// <summary>The connection of the worker started with <paramref name="secret"/>, once it has proven itself.</summary>
    public Task<Socket> ExpectConnection(string secret)
    {
        var expected = new Expected();
        _expected[secret] = expected;
        return expected.Connection.Task;
    }

    /// <summary>Forgets the worker of <paramref name="secret"/>, which did not start.</summary>
    public void Forget(string secret) => _expected.TryRemove(secret, out _);

    /// <summary>The pid the worker of <paramref name="secret"/> must connect from.</summary>
    public void ExpectPid(string secret, int pid)
    {
        if (_expected.TryGetValue(secret, out var expected))
        {
            expected.Pid.TrySetResult(pid);
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = VerifyAsync(socket);
        }
    }

    // A connection counts only if its first frame is the Hello of a worker this host started, carrying that worker's
    // secret, from that worker's pid (the kernel's SO_PEERCRED, not anything the peer says). Anything else is closed.
    // A worker that proves itself but speaks another version of the protocol fails to start, saying so.
    private async Task VerifyAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var header = new byte[WorkerProtocol.HeaderSize];
            await ReceiveExactlyAsync(socket, header, timeout.Token).ConfigureAwait(false);
            var (type, _, _, length) = FrameReader.ReadHeader(header, fromServer: true);
            if (type != FrameType.Hello || length > 4096)
            {
                throw new InvalidDataException("its first frame is not a worker's Hello");
            }

            var payload = new byte[length];
            await ReceiveExactlyAsync(socket, payload, timeout.Token).ConfigureAwait(false);
            var (version, secret, module) = FrameReader.ReadHello(payload);
            if (!_expected.TryGetValue(secret, out var expected))
            {
                throw new InvalidDataException("it did not carry the secret of a worker this host started");
            }

            // A forked worker may connect before its template has told the host its pid: the secret stays expected until
            // then, and is used once.
            var pid = await expected.Pid.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            if (!_expected.TryRemove(new KeyValuePair<string, Expected>(secret, expected)))
            {
                throw new InvalidDataException("it carried the secret of a worker that has connected already");
            }

            var peer = PeerPid(socket);
            if (peer != pid)
            {
                throw new InvalidDataException($"it came from pid {peer}, not from the worker's pid {pid}");
            }

            if (version != WorkerProtocol.Version)
            {
                socket.Dispose();
                expected.Connection.TrySetException(new WorkerStartException(pid, Worker.VersionMismatch(version, module), ""));
                return;
            }

            expected.Connection.TrySetResult(socket);
        }
        catch (Exception ex) when (ex is InvalidDataException or OperationCanceledException or SocketException)
        {
            _logger.UnexpectedConnection(ex.Message);
            socket.Dispose();
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new InvalidDataException("it closed before its Hello was complete");
            }

            buffer = buffer[read..];
        }
    }

    private static int PeerPid(Socket socket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } for SOL_SOCKET (1), SO_PEERCRED (17).
        Span<byte> credentials = stackalloc byte[12];
        socket.GetRawSocketOption(1, 17, credentials);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(credentials);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Dispose();
        _stopping.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Expected
    {
        public TaskCompletionSource<Socket> Connection { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<int> Pid { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
