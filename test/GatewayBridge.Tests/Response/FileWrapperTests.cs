using System.Text;

namespace GatewayBridge.Tests;

public class FileWrapperTests
{
    [Theory]
    [InlineData(0, FileWrapper.DefaultBlockSize)]
    [InlineData(-1, FileWrapper.DefaultBlockSize)]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    public void AMissingOrNonPositiveBlockSize_MeansTheDefault(int asked, int expected)
    {
        using var wrapper = new FileWrapper(new MemoryStream(), asked);
        Assert.Equal(expected, wrapper.BlockSize);
    }

    [Fact]
    public void Enumerating_ReadsTheStreamInBlocks_FromItsPosition_AsPep3333sFallbackDoes()
    {
        var stream = new MemoryStream(Encoding.ASCII.GetBytes("__abcdefg")) { Position = 2 };
        using var wrapper = new FileWrapper(stream, 3);

        var blocks = wrapper.Select(b => Encoding.ASCII.GetString(b)).ToList();

        Assert.Equal(["abc", "def", "g"], blocks);
    }

    [Fact]
    public void AnEmptyStream_HasNoBlocks()
    {
        using var wrapper = new FileWrapper(new MemoryStream(), 4);
        Assert.Empty(wrapper);
    }

    [Fact]
    public void Disposing_ClosesTheStream()
    {
        var stream = new MemoryStream([1, 2, 3]);
        var wrapper = new FileWrapper(stream, 0);

        wrapper.Dispose();

        Assert.False(stream.CanRead);
    }

    [Fact]
    public void AStreamThatCannotBeRead_IsRefused_SayingWhy()
    {
        var closed = new MemoryStream();
        closed.Dispose();

        var error = Assert.Throws<ArgumentException>(() => FileWrapper.Factory(closed, 0));

        Assert.Equal("stream", error.ParamName);
        Assert.Contains("readable stream", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => FileWrapper.Factory(null!, 0));
    }
}
