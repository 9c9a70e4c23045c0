using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge.TestSupport;

/// <summary>The server's response body, counting what goes through its send-file path.</summary>
public sealed class RecordingBodyFeature(IHttpResponseBodyFeature inner, Action onSendFile) : IHttpResponseBodyFeature
{
    public Stream Stream => inner.Stream;

    public PipeWriter Writer => inner.Writer;

    public Task CompleteAsync() => inner.CompleteAsync();

    public void DisableBuffering() => inner.DisableBuffering();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        onSendFile();
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);
}
