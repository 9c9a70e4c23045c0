using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge.Serve;

/// <summary>
/// <c>--access-logfile</c>: a line per request, native and Python alike, in gunicorn's format and atoms
/// (<c>%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"</c> by default). Lines are written by one task, as
/// many as have come in one write, so the log never holds a request up.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    private readonly Func<Entry, string>[] _format;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public AccessLog(string file, string format)
    {
        _format = Compile(format);
        var stream = file == "-"
            ? Console.OpenStandardOutput()
            : new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
        _writer = WriteAsync(stream);
    }

    /// <summary>The middleware: first in the pipeline, so that it sees every request and its time.</summary>
    public async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        var failed = false;
        var counting = new CountingBody(context.Features.Get<IHttpResponseBodyFeature>()!);
        context.Features.Set<IHttpResponseBodyFeature>(counting);
        try
        {
            await next(context);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            context.Features.Set<IHttpResponseBodyFeature>(counting.Inner);

            // An exception before the response started becomes Kestrel's 500 after this line is built: that is what
            // the client gets. The time is when the line is written, as gunicorn's is.
            var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            var entry = new Entry(context, DateTimeOffset.Now, Stopwatch.GetElapsedTime(started), counting.Written, status);
            var line = new StringBuilder();
            foreach (var piece in _format)
            {
                line.Append(piece(entry));
            }

            _lines.Writer.TryWrite(line.Append('\n').ToString());
        }
    }

    private async Task WriteAsync(Stream stream)
    {
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new StringBuilder();
            while (await _lines.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    buffer.Append(line);
                }

                var bytes = Encoding.UTF8.GetBytes(buffer.ToString());
                buffer.Clear();
                await stream.WriteAsync(bytes).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    // gunicorn's format is Python's %-formatting over its atoms: %(name)s, %(name)d, %({header}i)s, and %% for a %.
    private static Func<Entry, string>[] Compile(string format)
    {
        var pieces = new List<Func<Entry, string>>();
        var text = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] == '%' && i + 1 < format.Length && format[i + 1] == '%')
            {
                text.Append('%');
                i++;
            }
            else if (format[i] == '%' && i + 1 < format.Length && format[i + 1] == '(' && format.IndexOf(')', i) is var close and > 0 && close + 1 < format.Length)
            {
                if (text.Length > 0)
                {
                    var literal = text.ToString();
                    pieces.Add(_ => literal);
                    text.Clear();
                }

                pieces.Add(Atom(format[(i + 2)..close]));
                i = close + 1;
            }
            else
            {
                text.Append(format[i]);
            }
        }

        if (text.Length > 0)
        {
            var rest = text.ToString();
            pieces.Add(_ => rest);
        }

        return [.. pieces];
    }

    private static Func<Entry, string> Atom(string name)
    {
        if (name.Length > 2 && name[0] == '{' && name[^2] == '}')
        {
            var key = name[1..^2];
            return name[^1] switch
            {
                'i' => e => Dash(e.Context.Request.Headers[key].ToString()),
                'o' => e => Dash(e.Context.Response.Headers[key].ToString()),
                'e' => e => Dash(EnvironValue(e.Context, key)),
                _ => _ => "-",
            };
        }

        return name switch
        {
            "h" => e => e.Context.Connection.RemoteIpAddress?.ToString() ?? "-",
            "l" => _ => "-",
            "u" => e => User(e.Context.Request.Headers.Authorization.ToString()),
            "t" => e => e.At.ToString("'['dd'/'MMM'/'yyyy':'HH':'mm':'ss' '", CultureInfo.InvariantCulture) + e.At.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal) + "]",
            "r" => e => $"{e.Context.Request.Method} {Target(e.Context)} {e.Context.Request.Protocol}",
            "m" => e => e.Context.Request.Method,
            "U" => e => e.Context.Request.Path.ToString(),
            "q" => e => e.Context.Request.QueryString.HasValue ? e.Context.Request.QueryString.Value![1..] : "",
            "H" => e => e.Context.Request.Protocol,
            "s" => e => e.Status.ToString(CultureInfo.InvariantCulture),
            "B" => e => e.Bytes.ToString(CultureInfo.InvariantCulture),
            "b" => e => e.Bytes.ToString(CultureInfo.InvariantCulture),
            "f" => e => Dash(e.Context.Request.Headers.Referer.ToString()),
            "a" => e => Dash(e.Context.Request.Headers.UserAgent.ToString()),
            "T" => e => ((long)e.Elapsed.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "M" => e => ((long)e.Elapsed.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "D" => e => ((long)(e.Elapsed.Ticks / 10)).ToString(CultureInfo.InvariantCulture),
            "L" => e => e.Elapsed.TotalSeconds.ToString("0.000000", CultureInfo.InvariantCulture),
            "p" => _ => $"<{Environment.ProcessId}>",
            _ => _ => "-",
        };
    }

    private static string Dash(string? value) => string.IsNullOrEmpty(value) ? "-" : value;

    // What the client asked for, as it asked: the raw target where Kestrel has it.
    private static string Target(HttpContext context) =>
        context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw
            ? raw
            : context.Request.PathBase.Add(context.Request.Path) + context.Request.QueryString.ToString();

    // gunicorn's %(u)s: the user name of Basic authentication.
    private static string User(string authorization)
    {
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return "-";
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            return Dash(decoded.Split(':', 2)[0]);
        }
        catch (FormatException)
        {
            return "-";
        }
    }

    // gunicorn's %({key}e)s reads the WSGI environ (keys lowercased), not the process's environment: the environ the
    // bridge gives an app for this request, for a native request as for a Python one.
    private static string? EnvironValue(HttpContext context, string key)
    {
        var environ = new EnvironDictionary(context, context.Request.PathBase.Value ?? "", context.Request.Path.Value ?? "", Stream.Null);
        return environ.TryGetValue(key.ToUpperInvariant(), out var value) || environ.TryGetValue(key.ToLowerInvariant(), out value)
            ? value?.ToString()
            : null;
    }

    private readonly record struct Entry(HttpContext Context, DateTimeOffset At, TimeSpan Elapsed, long Bytes, int Status);

    /// <summary>The response body as the app writes it, counted: gunicorn's %(B)s is the bytes sent, whatever the path.</summary>
    private sealed class CountingBody(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
    {
        private CountingPipe? _writer;
        private CountingStream? _stream;
        private long _files;

        public IHttpResponseBodyFeature Inner { get; } = inner;

        public long Written => (_writer?.Written ?? 0) + (_stream?.Written ?? 0) + _files;

        public Stream Stream => _stream ??= new CountingStream(Inner.Stream);

        public PipeWriter Writer => _writer ??= new CountingPipe(Inner.Writer);

        public Task CompleteAsync() => Inner.CompleteAsync();

        public void DisableBuffering() => Inner.DisableBuffering();

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
        {
            _files += count ?? new FileInfo(path).Length - offset;
            return Inner.SendFileAsync(path, offset, count, cancellationToken);
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => Inner.StartAsync(cancellationToken);
    }

    private sealed class CountingPipe(PipeWriter inner) : PipeWriter
    {
        public long Written { get; private set; }

        public override void Advance(int bytes)
        {
            Written += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            Written += source.Length;
            return inner.WriteAsync(source, cancellationToken);
        }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Written += count;
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Written += count;
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }
    }
}
