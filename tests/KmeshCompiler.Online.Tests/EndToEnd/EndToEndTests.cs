using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using FakeXds;
using KmeshCompiler.Abi;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using KmeshCompiler.Serve;
using KmeshCompiler.Tests.Kernel;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace KmeshCompiler.Online.Tests.EndToEnd;

/// <summary>The online compiler end to end (docs/serve.md, "End-to-end test"): the fake xDS server,
/// the xDS client behind <see cref="XdsWorldSource"/>, the serve loop, the loader and the live maps of a
/// private bpffs. A seeded script of 1,000 cluster changes is served; bad resources are slipped in; the
/// server drops its streams and restarts at random points. At every quiet point the live maps, read
/// back as <c>kmeshc dump</c> reads them, equal the full compile of what the server serves.</summary>
public sealed class EndToEndTests(ITestOutputHelper output)
{
    /// <summary>The script's seed; KMESH_E2E_SEED runs another.</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("KMESH_E2E_SEED"), out int s) ? s : 20261205;
    private const int Updates = 1000;
    private const int PerQuietPoint = 25;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly string[] Types = [TypeUrls.Address, TypeUrls.Authorization];

    [KernelFact]
    public async Task After_every_quiet_point_of_a_thousand_updates_with_nacks_drops_and_restarts_the_live_maps_are_the_full_compile_of_the_servers_state()
    {
        var run = new Run(Seed, output);
        await run.ExecuteAsync();
    }

    /// <summary>One run of the script, with what it counted.</summary>
    private sealed class Run(int seed, ITestOutputHelper output)
    {
        private readonly Random _rng = new(seed);
        private readonly ClusterChanges _script = new(seed);
        private readonly List<string> _recent = [];
        private readonly RecentLog _log = new();
        private FakeXdsServer _server = null!;
        private Recording _source = null!;
        private Rejections _rejections = null!;
        private ServeLoop _loop = null!;
        private readonly ServeMetrics _metrics = new();
        private CancellationTokenSource? _stop;
        private Task _serving = Task.CompletedTask;
        private int _serveRestarts;
        private readonly HashSet<int> _firstStreams = [1];
        private string _pins = "";
        private int _quietPoints, _badPuts, _badChecked, _drops, _restarts, _resumesChecked, _badOnlyPoints;
        private Task _restart = Task.CompletedTask;
        private TimeSpan _waitServer, _waitClient, _waitLoop, _compare;

        public async Task ExecuteAsync()
        {
            var clock = Stopwatch.StartNew();
            using var fs = new PrivateBpfFs();
            _pins = fs["kmesh"];
            _server = await FakeXdsServer.StartAsync();
            try
            {
                _server.ApplyWorld(_script.World);
                StartServe();

                // Start: the initial state goes live and the loop is ready.
                var first = await QuietPoint("the initial state");
                Assert.Equal(StateOutcome.Published, first.Outcome);
                Assert.True(_loop.Readiness().Ok, _loop.Readiness().Reason);

                for (int update = 1; update <= Updates; update++)
                {
                    Note($"update {update}: {_script.Step()}");
                    _server.ApplyWorld(_script.World);
                    await Disturb(update);
                    if (update % PerQuietPoint != 0) continue;

                    await _restart;
                    await QuietPoint($"update {update}");
                    // Sometimes: a drop while quiet, to check that the client resumes with exactly the
                    // versions it holds; sometimes: bad resources alone, which must change nothing live.
                    if (_rng.Next(3) == 0) await DropAndResume();
                    if (update == Updates / 2) await RestartServe();
                    if (_rng.Next(3) == 0) await BadOnly();
                }
                await _restart;
                await QuietPoint("the end");

                var stats = _rejections.Reasons;
                output.WriteLine($"seed {seed}: {Updates} updates ({string.Join(", ", _script.Counts.Select(k => $"{k.Value} {k.Key}"))}) in {clock.Elapsed.TotalSeconds:0.0} s");
                output.WriteLine($"{_quietPoints} quiet points compared ({_badOnlyPoints} after bad resources alone); {_badPuts} bad resources served, {_badChecked} NACKs checked " +
                    $"({_server.Requests.Count(r => r.Kind == "NACK")} NACKs received, rejections by reason: {string.Join(", ", stats.Select(k => $"{k.Key} {k.Value}"))})");
                output.WriteLine($"{_drops} stream drops, {_restarts} server restarts, {_server.StreamsOpened} streams opened, {_resumesChecked} resumes checked version for version, {_serveRestarts} serve restart; " +
                    $"{_source.Yielded} states from the client, loop at generation {_loop.Live?.Generation}");
                output.WriteLine($"at quiet points: {_waitServer.TotalSeconds:0.0} s waiting for the server, {_waitClient.TotalSeconds:0.0} s for the client's state, " +
                    $"{_waitLoop.TotalSeconds:0.0} s for the loop, {_compare.TotalSeconds:0.0} s reading the live maps and compiling");
                Assert.True(_badChecked >= 10 && _drops >= 10 && _restarts >= 5 && _resumesChecked >= 5,
                    $"the run exercised too little: {_badChecked} NACKs checked, {_drops} drops, {_restarts} restarts, {_resumesChecked} resumes checked");
                Assert.All(stats.Keys, k => Assert.Matches("^KM[0-9]{4}$", k));
                // Every stream but a new client's first resumed from the resources the client held.
                var resumed = _server.Requests.Where(r => !_firstStreams.Contains(r.Stream) && r.Kind == "Initial").ToList();
                Assert.True(resumed.Select(r => r.Stream).Distinct().Count() >= 10, $"only {resumed.Count} subscriptions on later streams");
                Assert.All(resumed, r => Assert.True(r.InitialVersions.Count > 0, $"{r} resumed with nothing"));
            }
            catch (Exception e)
            {
                string what = e is Xunit.Sdk.XunitException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                throw new Xunit.Sdk.XunitException($"seed {seed}, after {_quietPoints} quiet points: {what}\n{Context()}", e);
            }
            finally
            {
                await StopServe();
                if (_server is not null) await _server.DisposeAsync();
            }
        }

        /// <summary>What <c>kmeshc serve --xds</c> runs: a client behind its source, and the loop
        /// publishing into the pins.</summary>
        private void StartServe()
        {
            _rejections ??= new Rejections(_metrics);
            _source = new Recording(new XdsWorldSource(Harness.Options(_server.Address), _rejections, _log));
            _loop = new ServeLoop(_source, new ServeOptions(ClusterChanges.Node, _pins), _metrics, _log);
            _stop = new CancellationTokenSource();
            var stop = _stop.Token;
            _serving = Task.Run(() => _loop.RunAsync(stop));
        }

        private async Task StopServe()
        {
            if (_stop is null) return;
            _stop.Cancel();
            try { await _serving.WaitAsync(Timeout); }
            finally
            {
                _stop.Dispose();
                _stop = null;
            }
        }

        /// <summary>Serve stops and starts again with a new client, as after a node agent's restart:
        /// the image stays in force meanwhile, the new loop resumes from the pins, and the server's
        /// state, sent again in full, is found equal to it (nothing is written).</summary>
        private async Task RestartServe()
        {
            var before = _loop.Live ?? throw new Xunit.Sdk.XunitException("nothing is live before serve restarts");
            await StopServe();
            Note("  serve stops and starts again");
            _firstStreams.Add(_server.StreamsOpened + 1);
            StartServe();
            var handled = await QuietPoint("serve restarted");
            Assert.Equal(StateOutcome.Unchanged, handled.Outcome);
            Assert.Equal(before, _loop.Live);
            _serveRestarts++;
        }

        /// <summary>Mid-batch trouble, drawn per update: a bad resource (followed by later updates in
        /// the batch, which replace it), a dropped stream, or a server restart that runs while the
        /// next updates are applied; or a pause, so that some updates go live alone rather than
        /// coalesced with the next. The same numbers are drawn whatever happens, so the script does not
        /// depend on timing.</summary>
        private async Task Disturb(int update)
        {
            int roll = _rng.Next(100), wait = _rng.Next(0, 15);
            var bad = BadName();
            if (roll < 4 && update % PerQuietPoint != 0)
            {
                _server.PutBad(bad.Type, bad.Name);
                _badPuts++;
                Note($"  bad {TypeUrls.MessageName(bad.Type)} {bad.Name}");
            }
            else if (roll < 6)
            {
                // At a random point of the pushes in flight.
                await Task.Delay(wait % 4);
                _server.DropStreams();
                _drops++;
                Note("  drop the streams");
            }
            else if (roll < 8)
            {
                // The server stays down for 0 to 140 ms while the next updates are applied.
                await _restart;
                _restart = _server.RestartAsync(TimeSpan.FromMilliseconds(wait * 10));
                _restarts++;
                Note($"  restart the server ({wait * 10} ms down)");
            }
            else if (roll < 20) await Task.Delay(wait);
        }

        /// <summary>A name to serve a bad resource under: an existing policy or pod (the client keeps
        /// the version it holds), or a new one (the client holds nothing for it).</summary>
        private (string Type, string Name) BadName()
        {
            int kind = _rng.Next(4), pick = _rng.Next(1000);
            var w = _script.World;
            return kind switch
            {
                0 => (TypeUrls.Authorization, w.Policies[pick % w.Policies.Length].Key),
                1 => (TypeUrls.Authorization, $"ns0/e2e-bad-{pick}"),
                2 => (TypeUrls.Address, w.Workloads[pick % w.Workloads.Length].Uid),
                _ => (TypeUrls.Address, $"Kubernetes//Pod/ns0/e2e-bad-{pick}"),
            };
        }

        /// <summary>Waits until the server has nothing more to send and the loop has handled the
        /// client's state for it; then the live maps must be the full compile of the server's state.</summary>
        private async Task<HandledState> QuietPoint(string at, bool unchangedFrom = false, HandledState? before = null)
        {
            long t0 = Stopwatch.GetTimestamp();
            await _server.WaitQuietAsync(Timeout);
            long t1 = Stopwatch.GetTimestamp();
            var served = Harness.AsServed(_script.World);
            var deadline = DateTime.UtcNow + Timeout;
            WorldUpdate? last;
            while ((last = _source.Last) is null || !last.FullState || !IrEquality.Equal(served, last.World))
            {
                if (DateTime.UtcNow > deadline)
                    throw new Xunit.Sdk.XunitException($"at {at}: the client's state never became the server's: " +
                        (last is null ? "no state" : $"revision {last.Revision}, full {last.FullState}: {IrEquality.FirstDifference(served, last.World)}"));
                await Task.Delay(5);
            }
            long t2 = Stopwatch.GetTimestamp();
            var handled = await _loop.WhenHandled(last.Revision).WaitAsync(Timeout);
            long t3 = Stopwatch.GetTimestamp();
            Assert.True(handled.Outcome is StateOutcome.Published or StateOutcome.Unchanged, $"at {at}: {handled}");
            if (unchangedFrom)
                Assert.True(handled == before, $"at {at}: the loop handled a new state: {handled} after {before}");

            var expected = Compile(served);
            LiveImage live;
            using (var loader = NodeLoader.Open(_pins, Timeout, create: false))
                live = loader.Dump() ?? throw new Xunit.Sdk.XunitException($"at {at}: nothing is live");
            string dumped = ImageText.Render(live.Image);
            if (dumped != expected.Text || live.ContentHash != expected.Hash)
                throw new Xunit.Sdk.XunitException($"at {at}: the live maps (generation {live.Generation}, image {live.ContentHash[..16]}) " +
                    $"differ from the full compile of the server's state (image {expected.Hash[..16]}):\n{FirstDifferences(expected.Text, dumped)}");
            Assert.Equal(live.Generation, _loop.Live?.Generation);
            _waitServer += Stopwatch.GetElapsedTime(t0, t1);
            _waitClient += Stopwatch.GetElapsedTime(t1, t2);
            _waitLoop += Stopwatch.GetElapsedTime(t2, t3);
            _compare += Stopwatch.GetElapsedTime(t3);
            _quietPoints++;
            _recent.Clear();
            return handled;
        }

        /// <summary>At a quiet point the client holds what the server serves: a dropped stream resumes
        /// with exactly those versions, and nothing changes live.</summary>
        private async Task DropAndResume()
        {
            var held = Types.ToDictionary(t => t, t => _server.Served(t));
            int streams = _server.StreamsOpened;
            var before = _loop.Last;
            _server.DropStreams();
            _drops++;
            Note("  drop the streams while quiet");
            foreach (var type in Types)
            {
                var initial = await _server.WaitForRequestAsync(r => r.Stream > streams && r.Kind == "Initial" && r.TypeUrl == type, Timeout);
                Assert.Equal(held[type], initial.InitialVersions);
            }
            await QuietPoint("a drop while quiet", unchangedFrom: true, before);
            _resumesChecked++;
        }

        /// <summary>Bad resources alone: each is NACKed with its name and reason, the source counts a
        /// rejection under a diagnostic code, and the live maps stay as they were.</summary>
        private async Task BadOnly()
        {
            int requests = _server.Requests.Count;
            long rejected = _rejections.Count;
            var before = _loop.Last;
            var bad = Enumerable.Range(0, 1 + _rng.Next(3)).Select(_ => BadName()).Distinct().ToList();
            foreach (var (type, name) in bad)
            {
                _server.PutBad(type, name);
                _badPuts++;
                Note($"  bad {TypeUrls.MessageName(type)} {name} (alone)");
            }
            await QuietPoint("bad resources alone", unchangedFrom: true, before);
            var nacks = _server.Requests.Skip(requests).Where(r => r.Kind == "NACK").ToList();
            foreach (var (type, name) in bad)
            {
                var nack = nacks.FirstOrDefault(r => r.TypeUrl == type && r.Error is { } e && e.Split("; ").Any(x => x.StartsWith(name + ": ", StringComparison.Ordinal) && x.Length > name.Length + 2));
                Assert.True(nack is not null, $"{name} was not NACKed with its reason; NACKs: {string.Join(" | ", nacks)}");
                _badChecked++;
            }
            Assert.True(_rejections.Count >= rejected + bad.Count, $"the source reported {_rejections.Count - rejected} rejections for {bad.Count} bad resources");
            _badOnlyPoints++;
        }

        private void Note(string what) => _recent.Add(what);

        private string Context() =>
            $"changes since the last quiet point:\n  {string.Join("\n  ", _recent.TakeLast(40))}\nlast log lines:\n  {string.Join("\n  ", _log.Lines)}\n" +
            $"last requests:\n  {string.Join("\n  ", _server?.Requests.TakeLast(10) ?? [])}";
    }

    /// <summary>What <c>kmeshc compile --text</c> writes for the node: the text rendered from the image
    /// as read back, and the content hash.</summary>
    private static (string Text, string Hash) Compile(World world)
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, ClusterChanges.Node, bag, null);
        if (image is null || bag.HasErrors) throw new Xunit.Sdk.XunitException("the server's state does not compile: " + string.Join("; ", bag.Sorted()));
        var bytes = image.ToBytes();
        var check = new DiagnosticBag();
        var reread = ImageReader.Read("expected", bytes, check) ?? throw new Xunit.Sdk.XunitException(string.Join("; ", check.Items));
        return (ImageText.Render(reread), ImageFile.ContentHashOf(bytes));
    }

    /// <summary>The first lines that differ, with a little context, as a diff would show them.</summary>
    internal static string FirstDifferences(string expected, string actual, int max = 12)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        int i = 0;
        while (i < e.Length && i < a.Length && e[i] == a[i]) i++;
        var lines = new List<string> { $"first difference at line {i + 1}:" };
        for (int k = Math.Max(0, i - 2); k < i; k++) lines.Add("    " + e[k]);
        for (int k = i; k < Math.Min(e.Length, i + max); k++) lines.Add("  - " + e[k]);
        for (int k = i; k < Math.Min(a.Length, i + max); k++) lines.Add("  + " + a[k]);
        return string.Join("\n", lines);
    }

    /// <summary>The source under test, remembering the last state it yielded.</summary>
    private sealed class Recording(IWorldSource inner) : IWorldSource
    {
        private volatile WorldUpdate? _last;
        private int _yielded;

        public WorldUpdate? Last => _last;

        public int Yielded => Volatile.Read(ref _yielded);

        public async IAsyncEnumerable<WorldUpdate> Updates([EnumeratorCancellation] CancellationToken ct)
        {
            await foreach (var u in inner.Updates(ct).WithCancellation(ct))
            {
                _last = u;
                Interlocked.Increment(ref _yielded);
                yield return u;
            }
        }
    }

    /// <summary>The serve metrics as the source's observer, and the rejections it reported by reason.</summary>
    private sealed class Rejections(IWorldSourceObserver metrics) : IWorldSourceObserver
    {
        private readonly ConcurrentDictionary<string, int> _reasons = new(StringComparer.Ordinal);
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public IReadOnlyDictionary<string, int> Reasons => new SortedDictionary<string, int>(_reasons, StringComparer.Ordinal);

        public void UpdateReceived() => metrics.UpdateReceived();

        public void UpdateRejected(string reason)
        {
            _reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
            Interlocked.Increment(ref _count);
            metrics.UpdateRejected(reason);
        }

        public void Synced(DateTimeOffset at) => metrics.Synced(at);
    }

    /// <summary>The last log lines of the client and the loop, for failure messages.</summary>
    private sealed class RecentLog : ILogger
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IEnumerable<string> Lines => _lines;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            _lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {eventId.Name}: {formatter(state, exception)}");
            while (_lines.Count > 30) _lines.TryDequeue(out _);
        }
    }
}
