namespace GatewayBridge.Python.Tests.Workers;

/// <summary>A worker's life only moves forward, and each transition happens once, whoever asks for it.</summary>
public class WorkerLifeTests
{
    [Fact]
    public void AWorker_GoesFromStartingToServingToRetiringToStoppingToExited_KeepingItsReason()
    {
        var life = new WorkerLife();
        Assert.Equal(WorkerState.Starting, life.State);

        Assert.True(life.Serve());
        Assert.True(life.Retire(RetireReason.Memory));
        Assert.True(life.Stop());
        Assert.Equal((WorkerState.Stopping, RetireReason.Memory), life.Exit());

        Assert.Equal(WorkerState.Exited, life.State);
        Assert.Equal(RetireReason.Memory, life.Reason);
    }

    [Fact]
    public void EachTransition_HappensOnce()
    {
        var life = new WorkerLife();

        Assert.True(life.Serve());
        Assert.False(life.Serve());
        Assert.True(life.Retire(RetireReason.MaxRequests));
        Assert.False(life.Retire(RetireReason.Signal));
        Assert.Equal(RetireReason.MaxRequests, life.Reason);
        Assert.NotNull(life.Exit());
        Assert.Null(life.Exit());
    }

    [Fact]
    public void AWorker_NeverGoesBack()
    {
        var life = new WorkerLife();
        life.Serve();
        life.Stop(RetireReason.Timeout);

        Assert.False(life.Serve());
        Assert.False(life.Retire(RetireReason.Reload));
        Assert.Equal(WorkerState.Stopping, life.State);
        Assert.Equal(RetireReason.Timeout, life.Reason);
    }

    [Fact]
    public void AHostThatStops_StopsAServingWorker_WithoutAReason()
    {
        var life = new WorkerLife();
        life.Serve();

        Assert.True(life.Stop());

        Assert.Equal((WorkerState.Stopping, (RetireReason?)null), life.Exit());
    }

    [Fact]
    public void AWorkerThatDies_LeavesTheStateItWasIn()
    {
        var starting = new WorkerLife();
        var serving = new WorkerLife();
        serving.Serve();

        Assert.Equal((WorkerState.Starting, (RetireReason?)null), starting.Exit());
        Assert.Equal((WorkerState.Serving, (RetireReason?)null), serving.Exit());
    }

    [Fact]
    public void RacingRetirements_RetireTheWorkerOnce()
    {
        var life = new WorkerLife();
        life.Serve();

        var won = Enumerable.Range(0, 8).AsParallel().Count(i => life.Retire(i % 2 == 0 ? RetireReason.Memory : RetireReason.Signal));

        Assert.Equal(1, won);
        Assert.Equal(WorkerState.Retiring, life.State);
    }

    [Fact]
    public void EachReason_HasTheTagTheMetricAndTheDocsUse()
    {
        var row = RepositoryFiles.ReadDoc("python.md").Split('\n').Single(l => l.StartsWith("| `gatewaybridge.python.worker_restarts`", StringComparison.Ordinal));
        var tags = Enum.GetValues<RetireReason>().Select(r => r.Tag()).ToList();

        Assert.Equal(["exited", "timeout", "max_requests", "memory", "signal", "reload", "removed"], tags);
        Assert.All(tags, tag => Assert.Contains($"`{tag}`", row, StringComparison.Ordinal));
    }
}
