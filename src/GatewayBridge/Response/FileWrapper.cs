namespace GatewayBridge;

/// <summary>
/// What <c>wsgi.file_wrapper</c> returns: an iterable over a stream that the server recognises and sends with
/// Kestrel's send-file path (or async copies) instead of enumerating it. Disposing it closes the stream.
/// </summary>
internal sealed class FileWrapper : IEnumerable<byte[]>, IDisposable
{
    public const int DefaultBlockSize = 8192;

    public static readonly Func<Stream, int, IEnumerable<byte[]>> Factory = static (stream, blockSize) => new FileWrapper(stream, blockSize);

    public FileWrapper(Stream stream, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("wsgi.file_wrapper needs a readable stream.", nameof(stream));
        }

        Stream = stream;
        BlockSize = blockSize > 0 ? blockSize : DefaultBlockSize;
    }

    public Stream Stream { get; }

    public int BlockSize { get; }

    /// <summary>
    /// The fallback when middleware hides the wrapper from the server: blocks read synchronously from the app's
    /// own stream, as PEP 3333's iterable file wrapper does.
    /// </summary>
    public IEnumerator<byte[]> GetEnumerator()
    {
        var buffer = new byte[BlockSize];
        int read;
        while ((read = Stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            yield return buffer.AsSpan(0, read).ToArray();
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose() => Stream.Dispose();
}
