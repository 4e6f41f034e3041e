using System.Net;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Serve;
using Microsoft.Extensions.Logging.Abstractions;

namespace KmeshCompiler.Tests.Serve;

/// <summary>What the loop does before any kernel write: coalescing, states that are not full, a
/// failing source. Every state here fails to compile on purpose (a capacity of zero policies), so
/// nothing is ever published and no BPF is needed; the kernel side is in Kernel/ServeLoopTests.</summary>
public sealed class ServeLoopUnitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly LoweringLimits NoPolicies = LoweringLimits.Kernel with { Capacities = new Dictionary<string, uint> { [Layout.MapPolicies] = 0 } };

    private static (ServeLoop Loop, ChannelWorldSource Source, ServeMetrics Metrics, string PinDir) Make(TimeSpan? quiet = null, TimeSpan? maxDelay = null)
    {
        var metrics = new ServeMetrics();
        var source = new ChannelWorldSource(metrics);
        string pinDir = Path.Combine(Directory.CreateTempSubdirectory("kmesh-serve-unit").FullName, "kmesh");
        var options = new ServeOptions(WorldChanges.Node, pinDir) { Limits = NoPolicies, Quiet = quiet ?? TimeSpan.FromMilliseconds(5), MaxDelay = maxDelay ?? TimeSpan.FromMilliseconds(100) };
        return (new ServeLoop(source, options, metrics, NullLogger.Instance), source, metrics, pinDir);
    }

    [Fact]
    public async Task A_burst_is_coalesced_into_its_last_state()
    {
        var (loop, source, _, pinDir) = Make(quiet: TimeSpan.FromMilliseconds(200), maxDelay: TimeSpan.FromSeconds(5));
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var world = new WorldChanges(1).Start();
        long last = 0;
        for (int i = 0; i < 10; i++) { world.Step(); last = source.Push(world.World); }
        var handled = await loop.WhenHandled(last).WaitAsync(Timeout);
        Assert.Equal(last, handled.Revision);
        Assert.Equal(10, handled.Coalesced);
        Assert.Equal(StateOutcome.CompileFailed, handled.Outcome);
        Assert.False(Directory.Exists(pinDir));
        stop.Cancel();
        await run.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_steady_stream_of_updates_is_still_handled_within_the_maximum_delay()
    {
        var (loop, source, _, _) = Make(quiet: TimeSpan.FromMilliseconds(100), maxDelay: TimeSpan.FromMilliseconds(150));
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var world = new WorldChanges(2).Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long first = source.Push(world.World);
        var handled = loop.WhenHandled(first);
        // An update every 20 ms never leaves 100 ms of quiet: only the maximum delay ends the burst.
        while (!handled.IsCompleted && clock.Elapsed < Timeout)
        {
            world.Step();
            source.Push(world.World);
            await Task.Delay(20);
        }
        var h = await handled;
        Assert.True(h.Coalesced > 1, $"{h.Coalesced} updates");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"handled after {clock.Elapsed}");
        stop.Cancel();
        await run.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_state_before_the_initial_sync_is_never_published_and_not_ready()
    {
        var (loop, source, _, pinDir) = Make();
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var h = await loop.WhenHandled(source.Push(new WorldChanges(3).Start().World, full: false)).WaitAsync(Timeout);
        Assert.Equal(StateOutcome.Partial, h.Outcome);
        Assert.False(loop.Readiness().Ok);
        Assert.Contains("waiting for the first full state", loop.Readiness().Reason);
        Assert.True(loop.Health().Ok);
        Assert.False(Directory.Exists(pinDir));
        // A full state that does not compile, with nothing in force: still not ready.
        Assert.Equal(StateOutcome.CompileFailed, (await loop.WhenHandled(source.Push(new WorldChanges(3).Start().World)).WaitAsync(Timeout)).Outcome);
        Assert.False(loop.Readiness().Ok);
        Assert.Contains("no image is in force", loop.Readiness().Reason);
        stop.Cancel();
        await run.WaitAsync(Timeout);
        Assert.False(loop.Health().Ok);
    }

    [Fact]
    public async Task A_source_that_fails_stops_serve_with_exit_2_and_health_says_so()
    {
        var (loop, source, metrics, _) = Make();
        source.Fail(new InvalidOperationException("the origin went away"));
        int rc = await ServeHost.RunAsync(loop, metrics, new IPEndPoint(IPAddress.Loopback, 0), NullLoggerFactory.Instance, CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal(ServeHost.Environment, rc);
        Assert.False(loop.Health().Ok);
        Assert.Equal("the loop has stopped", loop.Health().Reason);
    }

    [Fact]
    public async Task An_address_in_use_stops_serve_with_exit_2_before_the_loop_starts()
    {
        var (loop, _, metrics, pinDir) = Make();
        var other = new ServeMetrics();
        await using var taken = await ServeEndpoints.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), other, () => new(true, "ok"), () => new(true, "ok"), NullLoggerFactory.Instance, CancellationToken.None);
        int rc = await ServeHost.RunAsync(loop, metrics, taken.Bound, NullLoggerFactory.Instance, CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal(ServeHost.Environment, rc);
        Assert.False(Directory.Exists(pinDir));
    }
}
