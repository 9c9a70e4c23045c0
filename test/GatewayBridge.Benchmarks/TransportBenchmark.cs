using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// How requests could travel between the host and a Python worker process, measured before choosing: a Unix domain
/// socket or a pair of pipes, one request in flight (ping-pong) or several queued ahead. Each round trip carries a
/// typical environ (about 600 bytes, NUL-separated) and a 100-byte answer; the worker builds a dict of the environ
/// as a real one would. Prints round trips per second and the CPU each side spends per round trip.
/// </summary>
internal static class TransportBenchmark
{
    private static readonly byte[] Request = BuildRequest();

    public static async Task RunAsync(TimeSpan duration)
    {
        Console.WriteLine($"{"transport",-22} {"in flight",9} {"round trips/s",14} {"host µs/rt",11} {"worker µs/rt",13}");
        foreach (var (transport, depth) in new[]
        {
            ("unix socket", 1), ("unix socket", 2), ("unix socket", 8),
            ("unix socket, sync", 1), ("unix socket, sync", 2), ("unix socket, sync", 8),
            ("pipes", 1), ("pipes", 2), ("pipes", 8),
        })
        {
            var (rate, host, worker) = await MeasureAsync(transport, depth, duration);
            Console.WriteLine($"{transport,-22} {depth,9} {rate,14:N0} {host,11:F1} {worker,13:F1}");
        }
    }

    private static async Task<(double Rate, double HostMicros, double WorkerMicros)> MeasureAsync(string transport, int depth, TimeSpan duration)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "python", "transport_echo.py");
        var folder = Directory.CreateTempSubdirectory("gatewaybridge-transport");
        try
        {
            Process process;
            Stream stream;
            if (transport == "pipes")
            {
                process = Process.Start(new ProcessStartInfo("/usr/bin/python3", [script, "pipe"]) { RedirectStandardInput = true, RedirectStandardOutput = true })!;
                stream = new DuplexStream(process.StandardOutput.BaseStream, process.StandardInput.BaseStream);
            }
            else
            {
                // "sync": the same socket read and written with blocking calls, as a dedicated thread per worker would.
                var path = Path.Combine(folder.FullName, "s");
                using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                listener.Bind(new UnixDomainSocketEndPoint(path));
                listener.Listen(1);
                process = Process.Start(new ProcessStartInfo("/usr/bin/python3", [script, "uds", path]))!;
                var accepted = await listener.AcceptAsync();
                stream = transport.EndsWith("sync", StringComparison.Ordinal) ? new BlockingStream(accepted) : new NetworkStream(accepted, ownsSocket: true);
            }

            using (process)
            await using (stream)
            {
                // A short warm-up, then the measured run.
                await PumpAsync(stream, depth, TimeSpan.FromMilliseconds(300));
                var hostBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var workerBefore = WorkerCpu(process.Id);
                var count = await PumpAsync(stream, depth, duration);
                var host = (Process.GetCurrentProcess().TotalProcessorTime - hostBefore).TotalMicroseconds / count;
                var worker = (WorkerCpu(process.Id) - workerBefore).TotalMicroseconds / count;
                stream.Close();
                await process.WaitForExitAsync();
                return (count / duration.TotalSeconds, host, worker);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<long> PumpAsync(Stream stream, int depth, TimeSpan duration)
    {
        var answer = new byte[104 * 64];
        var stopwatch = Stopwatch.StartNew();
        long done = 0;
        var inFlight = 0;
        var buffered = 0;
        while (stopwatch.Elapsed < duration || inFlight > 0)
        {
            var batch = stopwatch.Elapsed < duration ? depth - inFlight : 0;
            if (batch > 0)
            {
                var frames = new byte[Request.Length * batch];
                for (var i = 0; i < batch; i++)
                {
                    Request.CopyTo(frames, i * Request.Length);
                }

                await stream.WriteAsync(frames);
                inFlight += batch;
            }

            var read = await stream.ReadAsync(answer.AsMemory(buffered));
            buffered += read;
            var answers = buffered / 104;
            buffered -= answers * 104;
            inFlight -= answers;
            done += answers;
        }

        return done;
    }

    // utime + stime from /proc/<pid>/stat, in clock ticks of 10 ms.
    private static TimeSpan WorkerCpu(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    private static byte[] BuildRequest()
    {
        var environ = new StringBuilder();
        foreach (var (key, value) in new[]
        {
            ("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", ""), ("PATH_INFO", "/hello"), ("QUERY_STRING", ""), ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_PORT", "5300"), ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1"), ("REMOTE_PORT", "41234"),
            ("REQUEST_URI", "/hello"), ("wsgi.url_scheme", "http"), ("HTTP_HOST", "127.0.0.1:5300"),
            ("HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            ("HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
            ("HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5"), ("HTTP_ACCEPT_ENCODING", "gzip, deflate, br"),
            ("HTTP_COOKIE", "session=0123456789abcdef0123456789abcdef; theme=dark"), ("HTTP_CONNECTION", "keep-alive"),
        })
        {
            environ.Append(key).Append('\0').Append(value).Append('\0');
        }

        var body = Encoding.Latin1.GetBytes(environ.ToString(0, environ.Length - 1));
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private sealed class BlockingStream(Socket socket) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => socket.Receive(buffer, offset, count, SocketFlags.None);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(socket.Receive(buffer.Span));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (!buffer.IsEmpty)
            {
                buffer = buffer[socket.Send(buffer.Span)..];
            }

            return default;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => socket.Send(buffer, offset, count, SocketFlags.None);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                socket.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class DuplexStream(Stream read, Stream write) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => write.Flush();

        public override int Read(byte[] buffer, int offset, int count) => read.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => read.ReadAsync(buffer, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await write.WriteAsync(buffer, cancellationToken);
            await write.FlushAsync(cancellationToken);
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => write.Write(buffer, offset, count);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                write.Dispose();
                read.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
