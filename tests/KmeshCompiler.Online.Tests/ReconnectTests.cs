using FakeXds;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Online.Tests;

/// <summary>Streams that end: the client reconnects with backoff, resumes with
/// initial_resource_versions (the server resends only what changed), and converges.</summary>
public class ReconnectTests
{
    [Fact]
    public async Task A_dropped_stream_resumes_with_the_versions_held_and_nothing_is_resent()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        var held = h.Client.Current;
        int before = h.Server.Requests.Count;
        h.Server.DropStreams();
        await h.Server.WaitForRequestAsync(r => r.Stream == 2 && r.Kind == "Initial" && r.TypeUrl == TypeUrls.Authorization, Harness.Timeout);
        await h.ConvergedAsync();
        foreach (var type in new[] { TypeUrls.Address, TypeUrls.Authorization })
        {
            var initial = h.Server.Requests.Skip(before).Single(r => r.Kind == "Initial" && r.TypeUrl == type);
            Assert.Equal(held.Of(type).ToDictionary(k => k.Key, k => k.Value.Version), initial.InitialVersions);
        }
        // The server had nothing new: its first responses on the new stream are empty, and the state
        // is the very same object.
        Assert.Same(held, h.Client.Current);
        Assert.True(h.Client.Stats.Reconnects >= 1);
        Assert.Contains(h.Events.Closed, c => c.Contains("127.0.0.1", StringComparison.Ordinal));
        var last = h.Events.Responses.TakeLast(2).ToList();
        Assert.All(last, r => Assert.Equal(0, r.Updated + r.Removed));
    }

    [Fact]
    public async Task Changes_made_while_the_server_is_down_arrive_as_updates_and_removals_on_reconnect()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        var w = Harness.Bookinfo;
        var next = w with { Policies = [.. w.Policies.Skip(2)], Workloads = [.. w.Workloads.Skip(1)] };
        var restart = h.Server.RestartAsync(TimeSpan.FromMilliseconds(300));
        await Task.Delay(100);
        h.Server.ApplyWorld(next);
        await restart;
        await h.ConvergedAsync();
        var expected = Harness.AsServed(next);
        var client = h.ClientWorld();
        Assert.True(IrEquality.Equal(expected, client), IrEquality.FirstDifference(expected, client));
        // Removals came from the server comparing the versions the client said it held.
        Assert.Contains(h.Events.Responses, r => r.Removed > 0);
    }

    [Fact]
    public async Task Random_drops_and_restarts_during_updates_converge_to_the_servers_state()
    {
        var rng = new Random(20261205);
        var w = Harness.Bookinfo;
        await using var h = await Harness.StartAsync();
        await h.WaitForAsync(s => s.InitialSyncDone, "initial sync");
        var current = w;
        for (int step = 0; step < 40; step++)
        {
            // A change: drop, restore or edit a policy, remove or restore a workload.
            current = rng.Next(4) switch
            {
                0 => current with { Policies = [.. current.Policies.Where((_, i) => i != rng.Next(current.Policies.Length))] },
                1 => current with { Policies = w.Policies.Select(p => rng.Next(3) == 0 ? p with { Action = p.Action == PolicyAction.Allow ? PolicyAction.Deny : PolicyAction.Allow } : p).ToImmutableArrayOf() },
                2 => current with { Workloads = [.. current.Workloads.Where((_, i) => i != rng.Next(current.Workloads.Length))] },
                _ => w,
            };
            h.Server.ApplyWorld(current);
            int wait = rng.Next(0, 30);
            int action = rng.Next(5);
            if (action < 3)
            {
                // Drop (or restart the server under) an open stream at a random point of its pushes.
                await h.WaitForAsync(_ => h.Server.OpenStreams > 0, "a stream to drop");
                await Task.Delay(rng.Next(0, 5));
                if (action < 2) h.Server.DropStreams();
                else await h.Server.RestartAsync(TimeSpan.FromMilliseconds(rng.Next(0, 150)));
            }
            await Task.Delay(wait);
        }
        await h.ConvergedAsync(30);
        var expected = Harness.AsServed(current);
        var client = h.ClientWorld();
        Assert.True(IrEquality.Equal(expected, client), IrEquality.FirstDifference(expected, client));
        Assert.True(h.Server.StreamsOpened > 15, $"only {h.Server.StreamsOpened} streams");
        // Every stream after the first resumed from what the client held.
        Assert.Contains(h.Server.Requests, r => r.Stream > 1 && r.Kind == "Initial" && r.InitialVersions.Count > 0);
    }

    [Fact]
    public async Task After_a_long_outage_the_client_is_back_within_its_own_backoff_of_the_server_returning()
    {
        // The gRPC channel has a reconnect backoff of its own (1 s growing to 120 s by default): left
        // alone it stacks under the client's, every attempt while it waits fails at once, and after
        // 6.5 s down the client came back 2.3 to 4 s after the server. Following the client's
        // (100 ms at most here), it comes back within about 200 ms.
        await using var h = await Harness.StartAsync(configure: o => o with { MaxBackoff = TimeSpan.FromMilliseconds(100) });
        await h.ConvergedAsync();
        await h.Server.RestartAsync(TimeSpan.FromMilliseconds(6500));
        var back = System.Diagnostics.Stopwatch.StartNew();
        await h.Server.WaitForRequestAsync(r => r.Stream == 2 && r.Kind == "Initial", Harness.Timeout);
        Assert.True(back.Elapsed < TimeSpan.FromMilliseconds(1500), $"the client came back {back.Elapsed.TotalMilliseconds:0} ms after the server; last error: {h.Client.Stats.LastError}");
        await h.ConvergedAsync();
    }

    [Fact]
    public async Task With_the_server_gone_the_client_keeps_its_state_and_backs_off()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        var held = h.Client.Current;
        await h.Server.StopAsync();
        await Task.Delay(600);
        Assert.Same(held, h.Client.Current);
        Assert.False(h.Client.Stats.Connected);
        Assert.NotNull(h.Client.Stats.LastError);
        Assert.Contains("127.0.0.1", h.Client.Stats.LastError);
        // Bounded: with a 200 ms bound, at most one attempt per 100 ms.
        int closed = h.Events.Closed.Count;
        Assert.InRange(closed, 2, 12);
    }
}

internal static class Extensions
{
    public static System.Collections.Immutable.ImmutableArray<T> ToImmutableArrayOf<T>(this IEnumerable<T> items) => [.. items];
}
