using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayBridge.Tests;

public class GatewayResponseStartTests
{
    [Fact]
    public void Start_RecordsStatusAndHeaders_WithoutSendingThem()
    {
        var state = Responses.Detached();
        state.StartResponse("201 Created", [("Location", "/x")]);

        Assert.True(state.Called);
        Assert.False(state.HeadersSent);
        Assert.Equal(201, state.StatusCode);
        Assert.Equal("Created", state.Reason);
        Assert.Equal([("Location", "/x")], state.Headers);
    }

    [Fact]
    public void SecondCall_WithoutExcInfo_Throws()
    {
        var state = Responses.Detached();
        state.StartResponse("200 OK", []);
        var error = Assert.Throws<InvalidOperationException>(() => state.StartResponse("500 Oops", []));
        Assert.Contains("excInfo", error.Message, StringComparison.Ordinal);
        Assert.Equal(200, state.StatusCode);
    }

    [Fact]
    public void SecondCall_WithExcInfo_BeforeHeadersSent_ReplacesThem()
    {
        var state = Responses.Detached();
        state.StartResponse("200 OK", [("X-First", "1")]);
        state.StartResponse("500 Internal Server Error", [("X-Second", "2")], new InvalidOperationException("boom"));

        Assert.Equal(500, state.StatusCode);
        Assert.Equal([("X-Second", "2")], state.Headers);
    }

    [Fact]
    public void CallWithExcInfo_AfterHeadersSent_RethrowsTheSameException()
    {
        var state = Responses.Detached();
        state.StartResponse("200 OK", []);
        state.MarkHeadersSent();
        var original = Throw();

        var rethrown = Assert.Throws<FormatException>(() => state.StartResponse("500 Oops", [], original));

        Assert.Same(original, rethrown);
        Assert.Contains(nameof(Throw), rethrown.StackTrace, StringComparison.Ordinal);
        Assert.Equal(200, state.StatusCode);

        static FormatException Throw()
        {
            try
            {
                throw new FormatException("original");
            }
            catch (FormatException ex)
            {
                return ex;
            }
        }
    }

    [Fact]
    public async Task StartBody_SendsTheHeadersOnce_WithTheBodysLength()
    {
        var context = new DefaultHttpContext();
        var body = new StartCountingBody();
        context.Features.Set<IHttpResponseBodyFeature>(body);
        var response = new GatewayResponse(context, NullLogger.Instance, default);
        response.StartResponse("200 OK", [("X-A", "1")]);

        await response.StartBodyAsync(10);
        await response.StartBodyAsync(10);

        Assert.Equal(1, body.Starts);
        Assert.Equal(10, context.Response.ContentLength);
        Assert.Equal("1", context.Response.Headers["X-A"]);
    }

    [Fact]
    public void Write_BeforeStart_Throws_AndBodyBeforeStartIsRefused()
    {
        var state = Responses.Detached();
        Assert.Throws<InvalidOperationException>(state.MarkHeadersSent);
    }

    [Fact]
    public void NullArguments_AreRefused_NamingThem_AndLeaveTheStateUntouched()
    {
        var state = Responses.Detached();
        Assert.Equal("status", Assert.Throws<ArgumentNullException>(() => state.StartResponse(null!, [])).ParamName);
        Assert.Equal("headers", Assert.Throws<ArgumentNullException>(() => state.StartResponse("200 OK", null!)).ParamName);
        Assert.False(state.Called);

        var write = state.StartResponse("200 OK", []);
        Assert.Equal("data", Assert.Throws<ArgumentNullException>(() => write(null!)).ParamName);
        Assert.False(state.HeadersSent);
    }

    [Fact]
    public async Task Write_MarksHeadersSent_AndCopiesTheBytes()
    {
        var body = new MemoryStream();
        var state = Responses.Detached(body);
        var write = state.StartResponse("200 OK", []);
        var data = new byte[] { 1, 2, 3 };

        write(data);
        data[0] = 9;

        Assert.True(state.HeadersSent);
        Assert.True(state.HasDueOutput);
        Assert.Throws<InvalidOperationException>(() => state.StartResponse("200 OK", []));
        await state.FlushDueOutputAsync();
        Assert.Equal(new byte[] { 1, 2, 3 }, body.ToArray());
        Assert.False(state.HasDueOutput);
    }

    [Fact]
    public async Task EmptyWrite_StillMarksHeadersSent_AndMakesThemDue()
    {
        var body = new MemoryStream();
        var state = Responses.Detached(body);
        state.StartResponse("200 OK", [])([]);
        Assert.True(state.HeadersSent);
        Assert.True(state.HasDueOutput);
        await state.FlushDueOutputAsync();
        Assert.Empty(body.ToArray());
        Assert.False(state.HasDueOutput);
    }

    [Fact]
    public void HeadersList_ChangedAfterTheCall_DoesNotChangeTheResponse()
    {
        var state = Responses.Detached();
        var headers = new List<(string, string)> { ("X-A", "1") };
        state.StartResponse("200 OK", headers);
        headers.Add(("Connection", "close"));

        Assert.Single(state.Headers);
    }

    [Fact]
    public void InvalidCall_LeavesTheStateUncalled()
    {
        var state = Responses.Detached();
        Assert.Throws<ArgumentException>(() => state.StartResponse("200 OK", [("Transfer-Encoding", "chunked")]));
        Assert.False(state.Called);
    }

    private sealed class StartCountingBody() : StreamResponseBodyFeature(Stream.Null)
    {
        public int Starts { get; private set; }

        public override Task StartAsync(CancellationToken cancellationToken = default)
        {
            Starts++;
            return base.StartAsync(cancellationToken);
        }
    }
}
