using System.Net;
using System.Net.Http;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using KmeshCompiler.Serve;
using KmeshCompiler.Tests.Serve;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The online compiler's loop on a private bpffs, driven by an in-memory source: the live
/// image after every quiet point is the full compile of the source's world, byte for byte; a world
/// that does not compile changes nothing live; the metrics and probes say what happened.</summary>
public sealed class ServeLoopTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    internal sealed class Running : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        public ChannelWorldSource Source { get; }
        public ServeMetrics Metrics { get; } = new();
        public ServeLoop Loop { get; }
        public Task Run { get; }

        public Running(string pinDir, LoweringLimits? limits = null)
        {
            Source = new ChannelWorldSource(Metrics);
            Loop = new ServeLoop(Source, new ServeOptions(WorldChanges.Node, pinDir) { Limits = limits }, Metrics, NullLogger.Instance);
            Run = Task.Run(() => Loop.RunAsync(_stop.Token));
        }

        public async Task<HandledState> Apply(World w, bool full = true) => await Loop.WhenHandled(Source.Push(w, full)).WaitAsync(Timeout);

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await Run.WaitAsync(Timeout);
        }
    }

    private static LiveImage Live(string dir)
    {
        using var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(10), create: false);
        return loader.Dump() ?? throw new InvalidOperationException("nothing is live");
    }

    [KernelFact]
    public async Task After_each_of_two_hundred_world_changes_the_live_image_is_the_full_compile_of_that_world_byte_for_byte()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        await using var serve = new Running(dir);
        var world = new WorldChanges(seed: 15).Start();
        var first = await serve.Apply(world.World);
        Assert.Equal(StateOutcome.Published, first.Outcome);
        int changes = 0, published = 0, unchanged = 0, bursts = 0, coalesced = 0;
        var log = new List<string>();
        while (changes < 200)
        {
            // Every fifth quiet point follows a burst of five changes pushed at once: only the last
            // state has to be live, and the loop compiles fewer states than it received.
            int burst = changes % 25 == 20 ? 5 : 1;
            long revision = 0;
            for (int b = 0; b < burst; b++)
            {
                log.Add(world.Step());
                revision = serve.Source.Push(world.World);
                changes++;
            }
            var handled = await serve.Loop.WhenHandled(revision).WaitAsync(Timeout);
            Assert.True(handled.Outcome is StateOutcome.Published or StateOutcome.Unchanged, $"change {changes} ({log[^1]}): {handled}");
            if (handled.Outcome == StateOutcome.Published) published++; else unchanged++;
            if (burst > 1) { bursts++; coalesced += handled.Coalesced; }
            var expected = WorldChanges.Compile(world.World);
            var live = Live(dir);
            Assert.True(expected.AsSpan().SequenceEqual(live.Image.ToBytes()),
                $"after change {changes} ({log[^1]}), the live image (generation {live.Generation}) differs from the full compile");
            Assert.Equal(live.Generation, serve.Loop.Live!.Generation);
        }
        output.WriteLine($"{changes} changes: {published} published, {unchanged} unchanged; {bursts} bursts of 5, {coalesced} updates coalesced into their last states");
        Assert.True(published >= 100, $"only {published} of {changes} changes changed the node's image");
        Assert.True(coalesced > bursts, "no burst was coalesced");
    }

    [KernelFact]
    public async Task A_world_that_does_not_compile_leaves_the_previous_image_live_and_is_counted()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        // At most 8 policies in an image: the 9th policy is over capacity (KM7xxx), an error.
        var limits = LoweringLimits.Kernel with { Capacities = new Dictionary<string, uint> { [Layout.MapPolicies] = 8 } };
        await using var serve = new Running(dir, limits);
        var world = new WorldChanges(seed: 3).Start(policies: 4);
        Assert.Equal(StateOutcome.Published, (await serve.Apply(world.World)).Outcome);
        var before = Live(dir);
        var tooMany = world.World with
        {
            Policies = [.. world.World.Policies, .. Enumerable.Range(0, 10).Select(i => world.World.Policies[0] with { Name = $"extra-{i}", Namespace = "istio-system", Scope = PolicyScope.Global })],
        };
        var failed = await serve.Apply(tooMany.Canonical());
        Assert.Equal(StateOutcome.CompileFailed, failed.Outcome);
        var after = Live(dir);
        Assert.Equal(before.Generation, after.Generation);
        Assert.True(before.Image.ToBytes().AsSpan().SequenceEqual(after.Image.ToBytes()));
        Assert.True(serve.Loop.Readiness().Ok);
        var text = await Scrape(serve.Metrics);
        Assert.Equal(1, Value(text, "kmesh_serve_compile_failures_total"));
        Assert.Equal(1, Value(text, "kmesh_serve_states_total{outcome=\"compile_failed\"}"));
        // The next good world goes live.
        world.Step();
        var next = await serve.Apply(world.World);
        Assert.True(next.Outcome is StateOutcome.Published or StateOutcome.Unchanged);
        Assert.True(WorldChanges.Compile(world.World, limits: limits).AsSpan().SequenceEqual(Live(dir).Image.ToBytes()));
    }

    [KernelFact]
    public async Task The_endpoints_serve_the_named_metrics_and_readyz_turns_ready_once_the_first_full_state_is_live()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        await using var serve = new Running(dir);
        await using var http = await ServeEndpoints.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), serve.Metrics, serve.Loop.Health, serve.Loop.Readiness, NullLoggerFactory.Instance, CancellationToken.None);
        using var client = new HttpClient { BaseAddress = new Uri($"http://{http.Bound}"), Timeout = Timeout };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(ServeEndpoints.HealthPath)).StatusCode);
        var notReady = await client.GetAsync(ServeEndpoints.ReadyPath);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Contains("waiting for the first full state", await notReady.Content.ReadAsStringAsync());

        // A state before the initial sync is complete is never published.
        var world = new WorldChanges(seed: 7).Start();
        Assert.Equal(StateOutcome.Partial, (await serve.Apply(world.World, full: false)).Outcome);
        Assert.False(Directory.Exists(dir));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync(ServeEndpoints.ReadyPath)).StatusCode);

        var published = await serve.Apply(world.World);
        Assert.Equal(StateOutcome.Published, published.Outcome);
        var ready = await client.GetAsync(ServeEndpoints.ReadyPath);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains($"generation {published.Generation} in force", await ready.Content.ReadAsStringAsync());

        // Traffic through the live programs: a SYN to a local pod, counted against its policies.
        var local = world.World.Workloads.First(w => w.Node == WorldChanges.Node && world.World.Policies.Any(p => p.Namespace == w.Namespace && p.Action == PolicyAction.Allow && !p.DryRun));
        var policy = world.World.Policies.First(p => p.Namespace == local.Namespace && p.Action == PolicyAction.Allow && !p.DryRun);
        ushort port = (ushort)policy.Rules[0].Clauses[0].Matches[0].DestinationPorts[0];
        var src = policy.Rules[0].Clauses[0].Matches[0].SourceIps is [var prefix, ..] ? prefix.Address.ToString() : "10.9.9.9";
        using (var objects = NodeObjects.OpenPinned(dir))
        using (var plane = new DataPlane(objects))
            for (int i = 0; i < 3; i++) plane.Syn(IPAddress.Parse(src), IPAddress.Parse(local.Addresses[0].ToString()), port);
        serve.Metrics.UpdateRejected("KM5001");

        var text = await client.GetStringAsync(ServeEndpoints.MetricsPath);
        foreach (var name in new[]
        {
            "kmesh_serve_updates_received_total", "kmesh_serve_updates_rejected_total", "kmesh_serve_compile_duration_seconds_bucket",
            "kmesh_serve_publish_duration_seconds_count", "kmesh_serve_update_to_live_seconds_count", "kmesh_serve_generation",
            "kmesh_serve_last_sync_timestamp_seconds", "kmesh_serve_compile_failures_total", "kmesh_serve_policy_matched_total",
            "kmesh_serve_policy_denied_total", "kmesh_serve_verdicts_total", "kmesh_serve_ready", "kmesh_serve_resident_memory_bytes",
        })
            Assert.True(Samples(text).Any(s => s.Name == name), $"{name} is not in the scrape:\n{text}");
        Assert.Equal(2, Value(text, "kmesh_serve_updates_received_total"));
        Assert.Equal(1, Value(text, "kmesh_serve_updates_rejected_total{reason=\"KM5001\"}"));
        Assert.Equal(published.Generation, (ulong)Value(text, "kmesh_serve_generation"));
        Assert.Equal(1, Value(text, "kmesh_serve_ready"));
        Assert.Equal(0, Value(text, "kmesh_serve_compile_failures_total"));
        Assert.Equal(1, Value(text, "kmesh_serve_publish_duration_seconds_count"));
        Assert.InRange(Value(text, "kmesh_serve_last_sync_timestamp_seconds"), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        // Every policy of the image has its counters, by name; the one the SYNs met counted them.
        using (var objects = NodeObjects.OpenPinned(dir))
        {
            var counters = NodeCounters.Read(objects);
            Assert.True(counters.Policies.Count > 0);
            foreach (var p in counters.Policies)
            {
                Assert.Equal(p.Matched, (ulong)Value(text, $"kmesh_serve_policy_matched_total{{policy=\"{p.Policy}\"}}"));
                Assert.Equal(p.Denied, (ulong)Value(text, $"kmesh_serve_policy_denied_total{{policy=\"{p.Policy}\"}}"));
            }
            Assert.True(Value(text, $"kmesh_serve_policy_matched_total{{policy=\"{policy.Key}\"}}") >= 3, $"{policy.Key} did not count the SYNs:\n{text}");
        }
        // A removed policy leaves the metrics once its counter slot is freed (two generations later).
        var without = world.World with { Policies = world.World.Policies.Remove(policy) };
        Assert.Equal(StateOutcome.Published, (await serve.Apply(without)).Outcome);
        Assert.Equal(StateOutcome.Published, (await serve.Apply((without with { Policies = [.. without.Policies, policy with { Name = policy.Name + "-renamed" }] }).Canonical())).Outcome);
        var last = await client.GetStringAsync(ServeEndpoints.MetricsPath);
        Assert.DoesNotContain($"policy=\"{policy.Key}\"", last);
    }

    /// <summary>The registry's text exposition, as a scrape gets it.</summary>
    private static async Task<string> Scrape(ServeMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The samples of a Prometheus text exposition: name, the whole series (name and
    /// labels) and value.</summary>
    internal static IEnumerable<(string Name, string Series, double Value)> Samples(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            string series = line[..space];
            int brace = series.IndexOf('{');
            yield return (brace < 0 ? series : series[..brace], series, double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    internal static double Value(string text, string series) =>
        Samples(text).Where(s => s.Series == series).Select(s => (double?)s.Value).FirstOrDefault() ?? throw new Xunit.Sdk.XunitException($"{series} is not in the scrape:\n{text}");
}
