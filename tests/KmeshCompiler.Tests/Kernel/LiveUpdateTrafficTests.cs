using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KmeshCompiler.Abi;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Serve;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Live updates under real traffic (docs/serve.md, "Live updates under traffic"): the XDP
/// program on a veth enforces the pins a <see cref="ServeLoop"/> publishes into, a client in another
/// namespace opens a new TCP connection after another (SYN through the program, greeting, close),
/// and meanwhile hundreds of worlds that never change the client's decision
/// (<see cref="SteadyClientWorld"/>) are published one by one, each its own generation. Not one
/// connection may fail, not one of the client's SYNs may be dropped (the SYN retransmission counter
/// of its namespace stays still), and every SYN the program saw must have been allowed by policy
/// (the verdict counters move on "allowed by policy" only, by exactly the number of connections).
/// Controls at the start and the end show the program really denies: the client on another port,
/// and another source on the allowed port.</summary>
public sealed class LiveUpdateTrafficTests(ITestOutputHelper output)
{
    // Shorter than the first SYN retransmission (1 s): a SYN the program dropped is a failed
    // connection, not a late one.
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromMilliseconds(900);
    private static readonly TimeSpan DeniedWithin = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly uint[] NotAllowedByPolicy =
        [Layout.VerdictAllowNoAllow, Layout.VerdictDenyPolicy, Layout.VerdictDenyNoneAllow, Layout.VerdictError, Layout.VerdictUnparsed];

    [KernelFact]
    public async Task A_client_keeps_connecting_through_two_hundred_live_updates_that_never_change_its_decision()
    {
        var r = await Run(updates: 200, seed: 15, decidingAt: null);
        Assert.True(r.Failed == 0, $"{r.Failed} of {r.Attempts} connections failed: {string.Join("; ", r.Failures)}");
        Assert.True(r.SynRetransmits == 0, $"{r.SynRetransmits} SYNs of the client were retransmitted: a SYN was dropped");
        foreach (var v in NotAllowedByPolicy)
            Assert.True(r.Verdicts[v] == 0, $"verdict {NodeCounters.VerdictKeys[v]} counted {r.Verdicts[v]} SYNs while the client was allowed by policy throughout");
        Assert.Equal((ulong)r.Attempts, r.Verdicts[Layout.VerdictAllowPolicy]);
        // Every update changes the image and waits for its publish before the next: each is a generation.
        Assert.True(r.Published == 200, $"only {r.Published} of 200 updates produced a new generation");
        Assert.True(r.Attempts >= 200, $"only {r.Attempts} connections");
        Assert.True(r.GenerationsWithTraffic == r.Published + 1, $"connections completed under only {r.GenerationsWithTraffic} of {r.Published + 1} generations");
    }

    /// <summary>The check can fail: one update in the middle denies the client (a DENY on its
    /// principal and port), the next takes it back. The client loop sees failed connections and the
    /// program counts explicit denies.</summary>
    [KernelFact]
    public async Task An_update_that_denies_the_client_for_a_moment_is_seen_as_failed_connections()
    {
        var r = await Run(updates: 10, seed: 16, decidingAt: 5);
        Assert.True(r.Failed > 0, "the client loop saw no failure while the client was denied");
        Assert.True(r.Verdicts[Layout.VerdictDenyPolicy] > 0, "no SYN was counted as explicitly denied");
        Assert.True(r.Attempts > r.Failed, "no connection succeeded around the denying update");
    }

    private sealed record Result(int Attempts, int Failed, List<string> Failures, int Published, int GenerationsWithTraffic, ulong SynRetransmits, ulong[] Verdicts);

    /// <summary>What the client loop saw; <see cref="Record"/> is called from its thread only,
    /// the counts are read by the test's.</summary>
    private sealed class ClientLog
    {
        private int _attempts, _failed;
        public long Generation;
        public ConcurrentDictionary<long, int> PerGeneration { get; } = new();
        public ConcurrentQueue<string> Failures { get; } = new();
        public TimeSpan SlowestHandshake, Slowest;
        public int Attempts => Volatile.Read(ref _attempts);
        public int Failed => Volatile.Read(ref _failed);

        public void Record(long before, long after, string? reply, TimeSpan handshake, TimeSpan took, string? error)
        {
            if (handshake > SlowestHandshake) SlowestHandshake = handshake;
            if (took > Slowest) Slowest = took;
            if (reply == "open") { if (before == after) PerGeneration.AddOrUpdate(before, 1, (_, n) => n + 1); }
            else
            {
                Interlocked.Increment(ref _failed);
                if (Failures.Count < 10) Failures.Enqueue($"generation {before}..{after}: {error ?? (reply is null ? $"no connection within {ConnectTimeout.TotalMilliseconds} ms" : "reply " + reply)}");
            }
            Interlocked.Increment(ref _attempts);
        }
    }

    private async Task<Result> Run(int updates, int seed, int? decidingAt)
    {
        var clock = Stopwatch.StartNew();
        using var veth = new VethPair();
        var bytes = veth.A4.GetAddressBytes();
        bytes[3] = 3;
        var stranger = new IPAddress(bytes);
        veth.A.Ip("addr", "add", $"{stranger}/24", "dev", veth.IfA);
        var world = new SteadyClientWorld(seed, veth.A4, veth.A6, veth.B4, veth.B6, stranger);
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        await using var serve = new ServeLoopTests.Running(dir);
        var first = await serve.Apply(world.World);
        Assert.Equal(StateOutcome.Published, first.Outcome);

        using var objects = NodeObjects.OpenPinned(dir);
        var plane = new DataPlane(objects);
        var open4 = new IPEndPoint(veth.B4, SteadyClientWorld.OpenPort);
        var open6 = new IPEndPoint(veth.B6, SteadyClientWorld.OpenPort);
        using var l4 = new Listener(open4, "open", veth.B);
        using var l6 = new Listener(open6, "open", veth.B);
        using var shut4 = new Listener(new IPEndPoint(veth.B4, SteadyClientWorld.ShutPort), "shut", veth.B);
        using var shut6 = new Listener(new IPEndPoint(veth.B6, SteadyClientWorld.ShutPort), "shut", veth.B);
        var attached = veth.B.Run(() => plane.Program.AttachXdp(veth.IfB));
        try
        {
            Controls(veth, stranger, "at the start");
            var verdictsBefore = NodeCounters.Read(objects).Verdicts;
            ulong retransBefore = SynRetransmits(veth.A);

            var log = new ClientLog { Generation = (long)first.Generation };
            using var stop = new CancellationTokenSource();
            var client = Task.Factory.StartNew(() => veth.A.Run(() =>
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    long before = Volatile.Read(ref log.Generation);
                    var started = Stopwatch.GetTimestamp();
                    string? reply = null, error = null;
                    var handshake = TimeSpan.Zero;
                    try { reply = Connect(i % 2 == 0 ? open4 : open6, ConnectTimeout, out handshake); }
                    catch (SocketException e) { error = e.Message; }
                    log.Record(before, Volatile.Read(ref log.Generation), reply, handshake, Stopwatch.GetElapsedTime(started), error);
                    Thread.Sleep(1);
                }
            }), TaskCreationOptions.LongRunning);

            int published = 0, unchanged = 0;
            ulong generation = first.Generation;
            var steps = new List<string>();
            try
            {
                for (int u = 1; u <= updates; u++)
                {
                    bool deciding = u == decidingAt;
                    steps.Add(deciding ? "add DENY web/deny-client on the client's principal and port" : world.Step());
                    var h = await serve.Apply(deciding ? (world.World with { Policies = [.. world.World.Policies, DenyClient(world)] }).Canonical() : world.World);
                    Assert.True(h.Outcome is StateOutcome.Published or StateOutcome.Unchanged, $"update {u} ({steps[^1]}): {h}");
                    if (h.Outcome == StateOutcome.Published)
                    {
                        Assert.True(h.Generation == generation + 1, $"update {u} ({steps[^1]}) published generation {h.Generation} after {generation}");
                        published++;
                    }
                    else unchanged++;
                    generation = h.Generation;
                    Volatile.Write(ref log.Generation, (long)generation);
                    // A connection is made under every generation before the next one is pushed
                    // (or, under the denying one, a connection fails).
                    int failedBefore = log.Failed;
                    var wait = Stopwatch.StartNew();
                    while (log.PerGeneration.GetValueOrDefault((long)generation) == 0 && log.Failed == failedBefore && wait.Elapsed < Timeout && !client.IsCompleted)
                        await Task.Delay(1);
                }
            }
            finally
            {
                stop.Cancel();
                await client.WaitAsync(Timeout);
            }
            var verdicts = NodeCounters.Read(objects).Verdicts.Zip(verdictsBefore, (a, b) => a - b).ToArray();
            ulong retrans = SynRetransmits(veth.A) - retransBefore;

            output.WriteLine($"{updates} updates in {clock.Elapsed.TotalSeconds:0.0} s: {published} published (generations {first.Generation + 1}..{generation}), {unchanged} unchanged; " +
                $"kinds: {string.Join(", ", world.Kinds.Select(k => $"{k.Key} {k.Value}"))}; drawn and dropped: {world.Rejected} changing a probe's decision, {world.Idle} leaving the image as it was");
            output.WriteLine($"{log.Attempts} connections, {log.Failed} failed, slowest handshake {log.SlowestHandshake.TotalMilliseconds:0.0} ms (with the greeting {log.Slowest.TotalMilliseconds:0.0} ms); completed within one generation under {log.PerGeneration.Count} generations " +
                $"(min {log.PerGeneration.Values.DefaultIfEmpty().Min()}, max {log.PerGeneration.Values.DefaultIfEmpty().Max()} each); client SYN retransmits {retrans}; " +
                $"verdicts during the updates: {string.Join(", ", verdicts.Select((n, v) => $"{NodeCounters.VerdictKeys[v]} {n}"))}");
            foreach (var f in log.Failures) output.WriteLine("failure: " + f);
            Controls(veth, stranger, "at the end");
            Assert.Equal(0, shut4.Accepted + shut6.Accepted);
            return new Result(log.Attempts, log.Failed, [.. log.Failures], published, log.PerGeneration.Count, retrans, verdicts);
        }
        finally
        {
            veth.B.Run(attached.Dispose);
        }
    }

    private static Policy DenyClient(SteadyClientWorld world) =>
        new("deny-client", "web", PolicyScope.Namespace, PolicyAction.Deny, false,
            [new Rule([new Clause([Match.Empty(SourceLocation.None) with { Principals = [new(StringMatchKind.Exact, world.ClientPrincipal)], DestinationPorts = [SteadyClientWorld.OpenPort] }], SourceLocation.None)], SourceLocation.None)],
            SourceLocation.None);

    /// <summary>The program allows the client's port and drops the other port and the other source.</summary>
    private static void Controls(VethPair veth, IPAddress stranger, string when) => veth.A.Run(() =>
    {
        foreach (var to in new[] { veth.B4, veth.B6 })
        {
            Assert.True(Connect(new IPEndPoint(to, SteadyClientWorld.OpenPort), ConnectTimeout) == "open", $"{when}: the client cannot reach {to}:{SteadyClientWorld.OpenPort}");
            Assert.True(Connect(new IPEndPoint(to, SteadyClientWorld.ShutPort), DeniedWithin) is null, $"{when}: the client reached {to}:{SteadyClientWorld.ShutPort}, which it is denied");
        }
        Assert.True(Connect(new IPEndPoint(veth.B4, SteadyClientWorld.OpenPort), DeniedWithin, from: stranger) is null, $"{when}: {stranger} reached the server, which it is denied");
    });

    /// <summary>One connection from the calling thread's namespace: the server's greeting, or null when
    /// the connect did not complete within <paramref name="timeout"/>. A non-blocking connect waited on
    /// with poll(2), which looks at the socket once more when the time is up, so a late wake-up of this
    /// thread is not taken for a dropped SYN.</summary>
    private static string? Connect(IPEndPoint to, TimeSpan timeout, IPAddress? from = null) => Connect(to, timeout, out _, from);

    private static string? Connect(IPEndPoint to, TimeSpan timeout, out TimeSpan handshake, IPAddress? from = null)
    {
        long start = Stopwatch.GetTimestamp();
        handshake = TimeSpan.Zero;
        using var s = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null) s.Bind(new IPEndPoint(from, 0));
        s.Blocking = false;
        try { s.Connect(to); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress) { }
        bool connected = s.Poll((int)timeout.TotalMicroseconds, SelectMode.SelectWrite);
        handshake = Stopwatch.GetElapsedTime(start);
        if (!connected) return null;
        if (s.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) is int err && err != 0) throw new SocketException(err);
        s.Blocking = true;
        s.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        var buf = new byte[64];
        int n = s.Receive(buf);
        return Encoding.ASCII.GetString(buf, 0, n).Trim();
    }

    /// <summary>TcpExt TCPSynRetrans of a namespace: SYNs sent again because no answer came.</summary>
    private static ulong SynRetransmits(NetNs ns) => ns.Run(() =>
    {
        var lines = File.ReadAllLines("/proc/thread-self/net/netstat").Where(l => l.StartsWith("TcpExt:", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return ulong.Parse(values[Array.IndexOf(names, "TCPSynRetrans")], System.Globalization.CultureInfo.InvariantCulture);
    });
}
