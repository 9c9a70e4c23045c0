using System.Net;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge.Tests;

public class EnvironDictionaryTests
{
    private static EnvironDictionary Sample()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Scheme = "http";
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Path = "/p";
        context.Request.QueryString = new QueryString("?x=1");
        context.Request.Host = new HostString("h:1");
        context.Request.Headers["Accept"] = "*/*";
        context.Request.Headers["X-A"] = "a";
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        return new EnvironDictionary(context, "", "/p", Stream.Null);
    }

    [Fact]
    public void BehavesLikeADictionary_UnderRandomOperations()
    {
        var keys = new[]
        {
            Environ.PathInfo, Environ.QueryString, Environ.ServerName, Environ.RemoteAddr, Environ.Https,
            Environ.ContentType, "HTTP_ACCEPT", "HTTP_X_A", "HTTP_X_NEW", "app.key", "other", Environ.Errors,
        };
        for (var seed = 0; seed < 50; seed++)
        {
            var random = new Random(seed);
            var environ = Sample();
            var model = new Dictionary<string, object?>(environ);
            for (var step = 0; step < 200; step++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(6))
                {
                    case 0:
                        environ[key] = model[key] = $"v{step}";
                        break;
                    case 1:
                        Assert.Equal(model.Remove(key), environ.Remove(key));
                        break;
                    case 2:
                        var added = model.TryAdd(key, step);
                        if (added)
                        {
                            environ.Add(key, step);
                        }
                        else
                        {
                            Assert.Throws<ArgumentException>(() => environ.Add(key, step));
                        }

                        break;
                    case 3:
                        Assert.Equal(model.TryGetValue(key, out var expected), environ.TryGetValue(key, out var actual));
                        Assert.Equal(expected, actual);
                        break;
                    case 4:
                        Assert.Equal(model.ContainsKey(key), environ.ContainsKey(key));
                        break;
                    default:
                        if (random.Next(20) == 0)
                        {
                            environ.Clear();
                            model.Clear();
                        }

                        break;
                }

                Assert.Equal(model.Count, environ.Count);
            }

            Assert.Equal(model.OrderBy(p => p.Key, StringComparer.Ordinal), environ.OrderBy(p => p.Key, StringComparer.Ordinal));
            Assert.Equal(model.Keys.Order(StringComparer.Ordinal), environ.Keys.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void EveryMember_Works()
    {
        IDictionary<string, object?> environ = Sample();
        var count = environ.Count;

        Assert.False(environ.IsReadOnly);
        Assert.Equal(count, environ.Keys.Count);
        Assert.Equal(count, environ.Values.Count);
        Assert.Contains("/p", environ.Values);

        var array = new KeyValuePair<string, object?>[count + 1];
        environ.CopyTo(array, 1);
        Assert.Contains(new KeyValuePair<string, object?>(Environ.PathInfo, "/p"), array);
        Assert.Throws<ArgumentException>(() => environ.CopyTo(new KeyValuePair<string, object?>[count], 1));
        Assert.Equal("array", Assert.Throws<ArgumentNullException>(() => environ.CopyTo(null!, 0)).ParamName);
        Assert.Equal("arrayIndex", Assert.Throws<ArgumentOutOfRangeException>(() => environ.CopyTo(array, -1)).ParamName);

        Assert.True(environ.Contains(new(Environ.PathInfo, "/p")));
        Assert.False(environ.Contains(new(Environ.PathInfo, "/other")));
        Assert.False(environ.Remove(new KeyValuePair<string, object?>(Environ.PathInfo, "/other")));
        Assert.True(environ.Remove(new KeyValuePair<string, object?>(Environ.PathInfo, "/p")));
        Assert.Equal(count - 1, environ.Count);

        environ.Add(new KeyValuePair<string, object?>("mine", 1));
        Assert.Equal(1, environ["mine"]);
        Assert.Throws<KeyNotFoundException>(() => environ["missing"]);
        Assert.Throws<ArgumentNullException>(() => environ[null!]);

        environ.Clear();
        Assert.Empty(environ);
        Assert.Empty(environ.Keys);
    }

    [Fact]
    public void ChangingItWhileEnumerating_Throws()
    {
        var environ = Sample();
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var pair in environ)
            {
                environ["added"] = 1;
            }
        });
    }

    public static NamedCases<Action<IDictionary<string, object?>>> Changes { get; } = new()
    {
        { "set a table key", e => e[Environ.QueryString] = "changed" },
        { "remove a table key", e => e.Remove(Environ.PathInfo) },
        { "set a header key", e => e["HTTP_ACCEPT"] = "changed" },
        { "remove a header key", e => e.Remove("HTTP_X_A") },
        { "remove an app's key", e => e.Remove("app.key") },
        { "add an app's key", e => e["app.other"] = 2 },
        { "clear", e => e.Clear() },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void AnyChange_WhileEnumerating_AnyPart_Throws(string change)
    {
        var apply = Changes[change];
        // The table's keys come first, then the headers, then the app's own keys: a change is noticed in each part.
        foreach (var part in (Func<KeyValuePair<string, object?>, bool>[])[p => p.Key == Environ.RequestMethod, p => p.Key.StartsWith("HTTP_", StringComparison.Ordinal), p => p.Key == "app.key"])
        {
            var environ = Sample();
            environ["app.key"] = 1;
            var error = Record.Exception(() =>
            {
                foreach (var pair in environ)
                {
                    if (part(pair))
                    {
                        apply(environ);
                    }
                }
            });

            Assert.True(error is InvalidOperationException, $"{change} went unnoticed");
        }
    }

    [Fact]
    public void RemovingTheFirstHeader_Works()
    {
        var environ = Sample();
        var first = environ.HttpHeaders[0].Key;

        Assert.True(environ.Remove(first));
        Assert.False(environ.ContainsKey(first));
    }

    [Fact]
    public void HttpHeaders_AreTheCapturedHeaderEntries()
    {
        var environ = Sample();

        Assert.Equal(
            environ.Where(p => p.Key.StartsWith("HTTP_", StringComparison.Ordinal)).OrderBy(p => p.Key, StringComparer.Ordinal),
            environ.HttpHeaders.ToArray().OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Contains(new KeyValuePair<string, object?>("HTTP_X_A", "a"), environ.HttpHeaders.ToArray());
    }

    [Fact]
    public void ANullTheAppStored_IsANull_WhenEnumerated()
    {
        var environ = Sample();
        environ[Environ.QueryString] = null;

        Assert.Contains(new KeyValuePair<string, object?>(Environ.QueryString, null), environ);
        Assert.True(environ.ContainsKey(Environ.QueryString));
    }

    [Theory]
    [InlineData(Environ.RemoteAddr)]
    [InlineData(Environ.RequestMethod)]
    [InlineData("HTTP_ACCEPT")]
    public void AKeyFirstReadAfterTheServerRecycledTheContext_SaysTheRequestEnded(string key)
    {
        // Once sealed, nothing is read from the context, which may already serve another request or be torn down.
        var context = new DefaultHttpContext();
        var environ = new EnvironDictionary(context, "", "/p", Stream.Null);
        environ.Seal();
        context.Uninitialize();

        var error = Assert.Throws<ObjectDisposedException>(() => environ[key]);
        Assert.Contains("request has ended", error.Message, StringComparison.Ordinal);
        Assert.Contains(key.StartsWith("HTTP_", StringComparison.Ordinal) ? "'HTTP_*'" : $"'{key}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARequestThatEnds_WhileAValueIsBeingRead_NeverGivesThatValue()
    {
        // A thread that kept the environ races the end of the request: the seal lands in the middle of the read.
        var context = new DefaultHttpContext();
        EnvironDictionary? environ = null;
        context.Features.Set<IHttpConnectionFeature>(new SealingConnection(() => environ!.Seal()));
        environ = new EnvironDictionary(context, "", "/p", Stream.Null);

        Assert.Throws<ObjectDisposedException>(() => environ[Environ.RemoteAddr]);
    }

    [Fact]
    public void ARequestThatEnds_WhileTheHeadersAreBeingCopied_NeverGivesThem()
    {
        var context = new DefaultHttpContext();
        EnvironDictionary? environ = null;
        context.Features.Set<IHttpRequestFeature>(new SealingRequest(context.Features.Get<IHttpRequestFeature>()!, () => environ!.Seal()));
        environ = new EnvironDictionary(context, "", "/p", Stream.Null);

        Assert.Throws<ObjectDisposedException>(() => environ["HTTP_X_A"]);
    }

    private sealed class SealingConnection(Action onRead) : IHttpConnectionFeature
    {
        public string ConnectionId { get; set; } = "c";

        public IPAddress? RemoteIpAddress
        {
            get
            {
                onRead();
                return IPAddress.Loopback;
            }

            set { }
        }

        public IPAddress? LocalIpAddress { get; set; }

        public int RemotePort { get; set; }

        public int LocalPort { get; set; }
    }

    private sealed class SealingRequest(IHttpRequestFeature inner, Action onHeaders) : IHttpRequestFeature
    {
        public string Protocol { get => inner.Protocol; set => inner.Protocol = value; }

        public string Scheme { get => inner.Scheme; set => inner.Scheme = value; }

        public string Method { get => inner.Method; set => inner.Method = value; }

        public string PathBase { get => inner.PathBase; set => inner.PathBase = value; }

        public string Path { get => inner.Path; set => inner.Path = value; }

        public string QueryString { get => inner.QueryString; set => inner.QueryString = value; }

        public string RawTarget { get => inner.RawTarget; set => inner.RawTarget = value; }

        public IHeaderDictionary Headers
        {
            get
            {
                onHeaders();
                return new HeaderDictionary { ["X-A"] = "a" };
            }

            set { }
        }

        public Stream Body { get => inner.Body; set => inner.Body = value; }
    }

    [Fact]
    public void KeysAreCaseSensitive_LikePythonDicts()
    {
        var environ = Sample();
        Assert.False(environ.ContainsKey("path_info"));
        environ["path_info"] = "lower";
        Assert.Equal("/p", environ[Environ.PathInfo]);
        Assert.Equal("lower", environ["path_info"]);
    }

    [Fact]
    public void AValueReadBeforeTheSeal_StaysReadable()
    {
        var environ = Sample();
        Assert.Equal("/p", environ[Environ.PathInfo]);
        Assert.Equal("*/*", environ["HTTP_ACCEPT"]);

        environ.Seal();

        Assert.Equal("/p", environ[Environ.PathInfo]);
        Assert.Equal("*/*", environ["HTTP_ACCEPT"]);
    }

    [Fact]
    public void AValueWrittenBeforeTheSeal_StaysReadable()
    {
        var environ = Sample();
        environ[Environ.QueryString] = "mine";
        environ["app.key"] = 1;
        environ.Remove(Environ.ServerName);

        environ.Seal();

        Assert.Equal("mine", environ[Environ.QueryString]);
        Assert.Equal(1, environ["app.key"]);
        Assert.False(environ.ContainsKey(Environ.ServerName));
    }

    [Theory]
    [InlineData(Environ.RequestMethod)]
    [InlineData(Environ.RemoteAddr)]
    [InlineData("HTTP_ACCEPT")]
    [InlineData("HTTP_NOT_SENT")]
    public void AKeyFirstReadAfterTheSeal_ThrowsObjectDisposed_SayingWhy(string key)
    {
        var environ = Sample();
        environ.Seal();

        var error = Assert.Throws<ObjectDisposedException>(() => environ[key]);
        Assert.Contains("request has ended", error.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => environ.Count);
        Assert.Throws<ObjectDisposedException>(() => environ.ToList());
    }

    [Fact]
    public void KeysTheRequestDoesNotDefine_StayUsableAfterTheSeal()
    {
        var environ = Sample();
        environ.Seal();

        environ["app.after"] = "x";
        Assert.Equal("x", environ["app.after"]);
        Assert.False(environ.ContainsKey("not-a-request-key"));
    }

    [Fact]
    public void NothingIsReadFromTheRequest_UntilAsked()
    {
        var context = new DefaultHttpContext();
        var environ = new EnvironDictionary(context, "", "/p", Stream.Null);
        context.Request.Method = "PATCH";
        context.Request.Headers["X-Later"] = "1";

        Assert.Equal("PATCH", environ[Environ.RequestMethod]);
        Assert.Equal("1", environ["HTTP_X_LATER"]);
    }

    [Fact]
    public void TheRequestAbortedTokenAnAppKept_SaysTheRequestIsOver_OnceSealed()
    {
        // The server resets its own token and reuses it for the next request on the connection; the environ's is one
        // the bridge owns, so a kept token can never signal another request's abort.
        using var server = new CancellationTokenSource();
        var environ = new EnvironDictionary(new DefaultHttpContext(), "", "/p", Stream.Null, requestAborted: server.Token);
        var kept = (CancellationToken)environ[Environ.RequestAborted]!;
        Assert.False(kept.IsCancellationRequested);

        environ.Seal();

        Assert.True(kept.IsCancellationRequested);
        Assert.True(server.TryReset());
        Assert.Equal(kept, (CancellationToken)environ[Environ.RequestAborted]!);
    }

    [Fact]
    public void TheRequestAbortedToken_FollowsTheServersWhileTheRequestRuns()
    {
        using var server = new CancellationTokenSource();
        var environ = new EnvironDictionary(new DefaultHttpContext(), "", "/p", Stream.Null, requestAborted: server.Token);
        var token = (CancellationToken)environ[Environ.RequestAborted]!;

        server.Cancel();

        Assert.True(token.IsCancellationRequested);
    }
}
