using System.Diagnostics.Metrics;
using System.Text;
using GatewayBridge;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// One of the twin servers load.sh compares: "plain" answers with ordinary middleware, "gateway" with gateway apps,
/// byte for byte the same responses. GET /_alloc reports the bytes this process has allocated so far.
/// </summary>
internal static class LoadServer
{
    private static readonly byte[] Hello = Encoding.UTF8.GetBytes("Hello, World!");
    private static readonly byte[] Chunk = Encoding.ASCII.GetBytes(new string('x', 1024));
    private static readonly (string, string)[] TextPlain = [("Content-Type", "text/plain")];
    private static readonly (string, string)[] Binary = [("Content-Type", "application/octet-stream")];

    public static async Task RunAsync(string mode, int port)
    {
        var file = Path.Combine(Path.GetTempPath(), "gatewaybridge-bench-1mb.bin");
        if (!File.Exists(file) || new FileInfo(file).Length != 1024 * 1024)
        {
            await File.WriteAllBytesAsync(file, new byte[1024 * 1024]);
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Map("/_alloc", b => b.Run(c => c.Response.WriteAsync(GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture))));

        // How many app calls waited for a worker thread instead of running inline: each such hand-off costs
        // thread switches, so a load figure means little without it.
        long queued = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "GatewayBridge" && instrument.Name == "gatewaybridge.queue.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref queued));
        listener.Start();
        app.Map("/_queued", b => b.Run(c => c.Response.WriteAsync(Interlocked.Read(ref queued).ToString(System.Globalization.CultureInfo.InvariantCulture))));
        if (mode == "plain")
        {
            app.Run(context => Plain(context, file));
        }
        else
        {
            // GATEWAY_MAX_INLINE lets the script compare scheduling settings; unset means the defaults.
            var maxInline = Environment.GetEnvironmentVariable("GATEWAY_MAX_INLINE");
            app.UseGatewayApp(
                (environ, startResponse) => Gateway(environ, startResponse, file),
                options =>
                {
                    if (int.TryParse(maxInline, out var value))
                    {
                        options.MaxInlineCalls = value;
                    }
                });
        }

        await app.RunAsync();
    }

    private static async Task Plain(HttpContext context, string file)
    {
        var response = context.Response;
        switch (context.Request.Path.Value)
        {
            case "/echo":
                var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                response.ContentType = "application/octet-stream";
                response.ContentLength = body.Length;
                await response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length));
                break;
            case "/stream":
                response.ContentType = "application/octet-stream";
                for (var i = 0; i < 64; i++)
                {
                    await response.Body.WriteAsync(Chunk);
                    await response.Body.FlushAsync();
                }

                break;
            case "/file":
                response.ContentType = "application/octet-stream";
                response.ContentLength = 1024 * 1024;
                await response.SendFileAsync(file);
                break;
            default:
                response.ContentType = "text/plain";
                response.ContentLength = Hello.Length;
                await response.Body.WriteAsync(Hello);
                break;
        }
    }

    private static IEnumerable<byte[]> Gateway(IDictionary<string, object?> environ, StartResponse startResponse, string file)
    {
        switch ((string)environ[Environ.PathInfo]!)
        {
            case "/echo":
                // The PEP 3333 idiom: read(int(CONTENT_LENGTH)) into one buffer of that size.
                var body = new byte[int.Parse((string)environ[Environ.ContentLength]!, System.Globalization.CultureInfo.InvariantCulture)];
                ((Stream)environ[Environ.Input]!).ReadExactly(body);
                startResponse("200 OK", Binary);
                return [body];
            case "/stream":
                startResponse("200 OK", Binary);
                return Stream();
            case "/file":
                startResponse("200 OK", Binary);
                var wrap = (Func<Stream, int, IEnumerable<byte[]>>)environ[Environ.FileWrapper]!;
                return wrap(File.OpenRead(file), 64 * 1024);
            default:
                startResponse("200 OK", TextPlain);
                return [Hello];
        }

        static IEnumerable<byte[]> Stream()
        {
            for (var i = 0; i < 64; i++)
            {
                yield return Chunk;
            }
        }
    }
}
