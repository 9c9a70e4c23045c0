using System.Diagnostics;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>A forked worker is signalled through a pidfd: that process or none, never one that took its pid later.</summary>
public class ForkedProcessTests
{
    [Fact]
    public async Task AChildOfTheGivenParent_IsHeld_AndSignalled_UntilItHasEnded()
    {
        using var sleep = Process.Start("sleep", "60");
        using var held = ForkedProcess.Open(sleep.Id, Environment.ProcessId);

        Assert.NotNull(held);
        Assert.True(held.HoldsPidfd);
        Assert.True(held.Signal(0));
        Assert.True(held.Signal(9));
        await sleep.WaitForExitAsync();
        Assert.Equal(137, sleep.ExitCode);
        Assert.False(held.Signal(0));
    }

    [Fact]
    public void AProcessOfAnotherParent_OrNone_IsNotHeld()
    {
        using var sleep = Process.Start("sleep", "60");
        try
        {
            Assert.Null(ForkedProcess.Open(sleep.Id, sleep.Id));
            Assert.Null(ForkedProcess.Open(int.MaxValue, Environment.ProcessId));
        }
        finally
        {
            sleep.Kill();
        }
    }
}
