using System.IO.Compression;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.RateLimiting;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>The gateway app next to the real parts of ASP.NET Core a production host uses.</summary>
public class ProductionHostTests
{
    private static readonly string[] ForwardedKeys =
        [Environ.UrlScheme, Environ.RemoteAddr, "HTTP_HOST", Environ.ServerName, Environ.ScriptName, Environ.PathInfo, "HTTP_X_FORWARDED_FOR"];

    private static Dictionary<string, string> ParseLines(string body) =>
        body.Split('\n').Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private static HttpRequestMessage Forwarded(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "shop.example.com");
        request.Headers.Add("X-Forwarded-Prefix", "/store");
        return request;
    }

    [Fact]
    public async Task ForwardedHeaders_FromAKnownProxy_ChangeSchemePeerHostAndScriptName()
    {
        await using var host = await TestApp.StartAsync(
            app =>
            {
                // Loopback is a known proxy by default: the test client plays the reverse proxy.
                app.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All });
                app.UseGatewayApp(GatewayValidator.Wrap(EchoMany(ForwardedKeys)));
            },
            kestrel: true);

        var values = ParseLines(await (await host.Client.SendAsync(Forwarded("/page"))).Content.ReadAsStringAsync());

        Assert.Equal("https", values[Environ.UrlScheme]);
        Assert.Equal("203.0.113.9", values[Environ.RemoteAddr]);
        Assert.Equal("shop.example.com", values["HTTP_HOST"]);
        Assert.Equal("shop.example.com", values[Environ.ServerName]);
        Assert.Equal("/store", values[Environ.ScriptName]);
        Assert.Equal("/page", values[Environ.PathInfo]);
    }

    [Fact]
    public async Task ForwardedHeaders_FromAnUnknownPeer_ArePlainHeadersAndChangeNothing()
    {
        await using var host = await TestApp.StartAsync(
            app =>
            {
                var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All };
                options.KnownProxies.Clear();
                options.KnownIPNetworks.Clear();
                options.KnownProxies.Add(IPAddress.Parse("10.9.9.9"));
                app.UseForwardedHeaders(options);
                app.UseGatewayApp(GatewayValidator.Wrap(EchoMany(ForwardedKeys)));
            },
            kestrel: true);

        var values = ParseLines(await (await host.Client.SendAsync(Forwarded("/page"))).Content.ReadAsStringAsync());

        Assert.Equal("http", values[Environ.UrlScheme]);
        Assert.Equal("127.0.0.1", values[Environ.RemoteAddr]);
        Assert.Equal($"127.0.0.1:{host.Port}", values["HTTP_HOST"]);
        Assert.Equal("", values[Environ.ScriptName]);
        Assert.Equal("203.0.113.9", values["HTTP_X_FORWARDED_FOR"]);
    }

    [Fact]
    public async Task WithoutForwardedHeadersMiddleware_TheHeadersChangeNothing()
    {
        await using var host = await TestApp.StartAsync(EchoMany(ForwardedKeys), kestrel: true);

        var values = ParseLines(await (await host.Client.SendAsync(Forwarded("/page"))).Content.ReadAsStringAsync());

        Assert.Equal("http", values[Environ.UrlScheme]);
        Assert.Equal("127.0.0.1", values[Environ.RemoteAddr]);
        Assert.Equal("", values[Environ.ScriptName]);
    }

    [Fact]
    public async Task OverTlsAndHttp2_SchemeIsHttps_ProtocolIsHttp2_CookiesJoin_AndStreamingWorks()
    {
        using var certificate = SelfSignedCertificate();

        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            yield return Bytes($"{environ[Environ.UrlScheme]}|{environ[Environ.Https]}|{environ[Environ.ServerProtocol]}|{environ["HTTP_COOKIE"]}|");
            for (var i = 0; i < 3; i++)
            {
                yield return Bytes($"chunk{i};");
            }
        }

        await using var host = await TestApp.StartAsync(
            app => app.UseGatewayApp(GatewayValidator.Wrap(App)),
            kestrel: true,
            configure: builder => builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(certificate);
            })));

        var port = host.Port;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString() },
        };
        using var client = new HttpClient(handler) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var request = new HttpRequestMessage(HttpMethod.Get, $"https://localhost:{port}/") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Add("Cookie", ["a=1", "b=2"]);

        var response = await client.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("https|on|HTTP/2|a=1; b=2|chunk0;chunk1;chunk2;", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ResponseCompression_AppliesToGatewayResponses()
    {
        var text = string.Concat(Enumerable.Repeat("compress me please ", 200));
        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseResponseCompression();
                app.UseGatewayApp(GatewayValidator.Wrap((environ, startResponse) =>
                {
                    startResponse("200 OK", [("Content-Type", "text/plain")]);
                    return [Bytes(text)];
                }));
            },
            configure: builder => builder.Services.AddResponseCompression(o => o.Providers.Add<GzipCompressionProvider>()));

        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Accept-Encoding", "gzip");
        var response = await host.Client.SendAsync(request);

        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        var compressed = await response.Content.ReadAsByteArrayAsync();
        Assert.True(compressed.Length < text.Length / 4);
        await using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        Assert.Equal(text, await new StreamReader(gzip).ReadToEndAsync());
    }

    [Fact]
    public async Task RateLimiting_RejectsBeforeTheAppRuns()
    {
        var calls = 0;
        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseRateLimiter();
                app.UseGatewayApp(GatewayValidator.Wrap((environ, startResponse) =>
                {
                    Interlocked.Increment(ref calls);
                    startResponse("200 OK", [("Content-Type", "text/plain")]);
                    return [];
                }));
            },
            configure: builder => builder.Services.AddRateLimiter(o =>
            {
                o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(_ =>
                    RateLimitPartition.GetFixedWindowLimiter("all", _ => new FixedWindowRateLimiterOptions { PermitLimit = 2, Window = TimeSpan.FromMinutes(5) }));
            }));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await host.Client.GetAsync("/")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task RequestTimeout_CutsASlowStream_AndDisposesTheIterable()
    {
        // The first tick goes out at once; each later one waits until the timeout has reached the request, so the
        // stream is cut by the timeout however slow the machine is, never by a race with a sleep.
        CancellationToken timeout = default;
        IEnumerator<byte[]> Slow()
        {
            for (var i = 0; i < 1000; i++)
            {
                if (i > 0)
                {
                    timeout.WaitHandle.WaitOne(TimeSpan.FromSeconds(10));
                }

                yield return Bytes("tick;");
            }
        }

        var body = new TrackedBody(Slow);
        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseRequestTimeouts();
                app.MapGatewayApp("/slow", (environ, startResponse) =>
                {
                    timeout = TimeoutOf(environ);
                    startResponse("200 OK", [("Content-Type", "text/plain")]);
                    return body;
                }).WithRequestTimeout(TimeSpan.FromSeconds(1));
            },
            kestrel: true,
            configure: builder => builder.Services.AddRequestTimeouts());

        using var connection = host.Connect();
        await connection.SendAsync("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10));

        Assert.True(closed, "a timed-out stream must end, not run on");
        Assert.Contains("tick;", text, StringComparison.Ordinal);
        Assert.DoesNotContain("0\r\n\r\n", text, StringComparison.Ordinal);
        await body.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, body.Disposed);
        Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "RequestTimedOut"));
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestAborted");
    }

    [Fact]
    public async Task RequestTimeout_BeforeTheResponseStarts_IsA504FromAspNet()
    {
        // Waits for the timeout itself, not a guess of how long it takes: nothing is due until it has reached the request.
        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            TimeoutOf(environ).WaitHandle.WaitOne(TimeSpan.FromSeconds(10));
            yield return [];
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            yield return Bytes("too late");
        }

        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseRequestTimeouts();
                app.MapGatewayApp("/slow", App).WithRequestTimeout(TimeSpan.FromMilliseconds(200));
            },
            kestrel: true,
            configure: builder => builder.Services.AddRequestTimeouts());

        var response = await host.Client.GetAsync("/slow");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);

        // Logged before the 504 goes out, and once: the stage that answers a timeout runs once per request. A timeout
        // is not a client that left.
        Assert.Single(host.Logs.Entries, e => e.EventId.Name == "RequestTimedOut");
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestAborted");
    }

    [Fact]
    public async Task GracefulShutdown_CutsAStreamInFlight_DisposesIt_AndLeavesNoUnobservedTaskExceptions()
    {
        var unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, _) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            static IEnumerator<byte[]> Endless()
            {
                while (true)
                {
                    Thread.Sleep(20);
                    yield return Bytes("data;");
                }
            }

            var body = new TrackedBody(Endless);
            var host = await TestApp.StartAsync(
                (environ, startResponse) =>
                {
                    startResponse("200 OK", [("Content-Type", "text/plain")]);
                    return body;
                },
                kestrel: true);

            using var connection = host.Connect();
            await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            await connection.ReadUntilAsync("data;");

            using (var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
            {
                await host.App.StopAsync(stop.Token);
            }

            await body.Closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await host.DisposeAsync();
            Assert.Equal(1, body.Disposed);
            Assert.True((await connection.ReadToCloseAsync(TimeSpan.FromSeconds(5))).Closed);

            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.Equal(0, unobserved);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
    }

    [Fact]
    public async Task FailedCall_LogsOneStructuredEvent_AndNeverHeaderValuesOrBodies()
    {
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                using var reader = new StreamReader((Stream)environ[Environ.Input]!, leaveOpen: true);
                _ = reader.ReadToEnd();
                throw new InvalidOperationException("app failed");
            },
            kestrel: true);

        var request = new HttpRequestMessage(HttpMethod.Post, "/orders/42") { Content = new StringContent("card=4111-SECRET-BODY") };
        request.Headers.Add("Authorization", "Bearer SECRET-TOKEN");
        await host.Client.SendAsync(request);

        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Contains("POST /orders/42", failure.Message, StringComparison.Ordinal);
        Assert.Equal("app failed", failure.Exception?.Message);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains("SECRET", StringComparison.Ordinal));
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        // Kestrel needs the private key in a form SslStream can use on every platform: round-trip through PFX.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    // The environ's request-aborted token, not the timeout's own: a token's wait handle is set before its callbacks
    // run, and it is a callback that carries the timeout on to RequestAborted, which the bridge watches; the environ's
    // token is cancelled after RequestAborted, so once it is set the bridge has seen the timeout too.
    private static CancellationToken TimeoutOf(IDictionary<string, object?> environ) =>
        (CancellationToken)environ[Environ.RequestAborted]!;
}
