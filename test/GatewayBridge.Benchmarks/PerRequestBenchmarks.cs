using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// What one hello request costs in the bridge, piece by piece, beside a plain middleware answering the same bytes.
/// Each operation gets a fresh DefaultHttpContext (the same cost on both sides).
/// </summary>
[MemoryDiagnoser]
public class PerRequestBenchmarks
{
    private static readonly byte[] Hello = Encoding.UTF8.GetBytes("Hello, World!");
    private static readonly (string, string)[] HelloHeaders = [("Content-Type", "text/plain")];
    // Kestrel's body writer costs nothing per request; a StreamResponseBodyFeature would allocate a pipe for each.
    private static readonly NullResponseBodyFeature NullBody = new();
    private GatewayRequestHandler _handler = null!;

    [GlobalSetup]
    public void Setup()
    {
        _handler = GatewayHandlerFactory.Create(
            new ServiceCollection().BuildServiceProvider(),
            (environ, startResponse) =>
            {
                startResponse("200 OK", HelloHeaders);
                return [Hello];
            },
            static _ => { });
    }

    private static DefaultHttpContext NewContext()
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseBodyFeature>(NullBody);
        var request = context.Request;
        request.Method = "GET";
        request.Scheme = "http";
        request.Protocol = "HTTP/1.1";
        request.Path = "/hello";
        request.Headers.Host = "localhost:5000";
        request.Headers.Accept = "*/*";
        request.Headers.UserAgent = "wrk";
        return context;
    }

    [Benchmark(Baseline = true, Description = "plain middleware: hello")]
    public Task PlainHello()
    {
        var context = NewContext();
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/plain";
        response.ContentLength = Hello.Length;
        return response.Body.WriteAsync(Hello).AsTask();
    }

    [Benchmark(Description = "a fresh context alone")]
    public object ContextOnly() => NewContext();

    [Benchmark(Description = "gateway: environ, PATH_INFO read")]
    public object BuildEnviron()
    {
        var context = NewContext();
        var environ = new EnvironDictionary(context, "", "/hello", Stream.Null);
        _ = environ[Environ.PathInfo];
        return environ;
    }

    [Benchmark(Description = "gateway: start_response")]
    public object StartResponse()
    {
        var context = NewContext();
        var response = new GatewayResponse(context, NullLogger.Instance, default);
        response.StartResponse("200 OK", HelloHeaders);
        return context;
    }

    [Benchmark(Description = "gateway: environ, every key read")]
    public int FullEnviron()
    {
        var context = NewContext();
        var count = 0;
        foreach (var _ in new EnvironDictionary(context, "", "/hello", Stream.Null))
        {
            count++;
        }

        return count;
    }

    [Benchmark(Description = "gateway: hello end to end")]
    public Task GatewayHello() => _handler.HandleAsync(NewContext(), "", "/hello");
}

/// <summary>A response body that discards bytes and allocates nothing, standing in for Kestrel's.</summary>
internal sealed class NullResponseBodyFeature : IHttpResponseBodyFeature
{
    private readonly NullPipeWriter _writer = new();

    public Stream Stream => Stream.Null;

    public System.IO.Pipelines.PipeWriter Writer => _writer;

    public Task CompleteAsync() => Task.CompletedTask;

    public void DisableBuffering()
    {
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    private sealed class NullPipeWriter : System.IO.Pipelines.PipeWriter
    {
        private readonly byte[] _buffer = new byte[4096];

        public override void Advance(int bytes)
        {
        }

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<System.IO.Pipelines.FlushResult> FlushAsync(CancellationToken cancellationToken = default) => default;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer;
    }
}
