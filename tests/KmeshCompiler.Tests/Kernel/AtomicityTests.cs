using System.Diagnostics;
using Xunit.Abstractions;
using System.Net;
using KmeshCompiler.Image;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Loader.Node;
using static KmeshCompiler.Tests.Kernel.LoaderImages;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>No packet is ever evaluated against a mix of two images (dataplane.md, "Atomic"). Each
/// pair of images below is built so that ANY mix of their tables gives a verdict neither image
/// gives: image A uses ids 1 and list slots 0..6, image B ids 2 and slots 10..16, and each image
/// fills the other's ids and slots with poison rows (a list slot or row range past its table, a
/// never-matching match, an absent set), so a packet that follows one image's reference into the
/// other's table ends in an error, "allow policies exist, but none allowed" or "no allow policies",
/// while A alone allows by policy and B alone denies by policy. One thread runs the live programs in
/// a loop while another swaps A and B through the loader hundreds of times; no mixed verdict may
/// appear, and both images' verdicts must. A control writes the same tables in place (no
/// generations) and must see mixed verdicts, which shows the detector works.</summary>
public sealed class AtomicityTests(ITestOutputHelper output)
{
    private const int Swaps = 500;
    private static readonly IPAddress Client = IPAddress.Parse("10.7.0.9");
    private static readonly IPAddress Dst = IPAddress.Parse("10.7.0.1");
    private const uint Poison = 0xfffff0;

    private static KmeshIpKey IpKey(IPAddress a)
    {
        var k = new KmeshIpKey();
        unsafe { a.GetAddressBytes().CopyTo(new Span<byte>(k.Addr, 16)); }
        return k;
    }

    private static KmeshAddrSetKey SetKey(uint set, IPAddress a)
    {
        var k = new KmeshAddrSetKey { Prefixlen = 64, SetFam = Layout.SetFam(set, false) };
        unsafe { a.GetAddressBytes().CopyTo(new Span<byte>(k.Addr, 16)); }
        return k;
    }

    /// <summary>The stage tables of image <paramref name="id"/> (1: A, allows by policy 1; 2: B,
    /// denies by policy 2).</summary>
    public static ImageFile StagesImage(uint id)
    {
        uint other = 3 - id;
        uint baseSlot = id == 1 ? 0u : 10u, otherBase = id == 1 ? 10u : 0u;
        var lists = new uint[17];
        for (int i = 0; i < 7; i++) { lists[baseSlot + i] = id; lists[otherBase + i] = Poison; }
        KmeshEval Eval(uint e) => e == id - 1
            ? new KmeshEval { Flags = id == 1 ? Layout.EvalHasAllow : 0, MatchFirst = baseSlot, MatchCount = 1, ClauseFirst = baseSlot + 1, ClauseCount = 1, RuleFirst = baseSlot + 2, RuleCount = 1, PolicyFirst = baseSlot + 3, PolicyCount = 1 }
            : new KmeshEval { Flags = Layout.EvalHasAllow, MatchFirst = Poison, MatchCount = 1, ClauseFirst = Poison, ClauseCount = 1, RuleFirst = Poison, RuleCount = 1, PolicyFirst = Poison, PolicyCount = 1 };
        return MakeImage("node-x",
        [
            (Layout.MapWorkloads, [Entry(IpKey(Dst), new KmeshWorkload { WorkloadId = 0, EvalId = id - 1 })]),
            (Layout.MapEvals, Rows(2, Eval)),
            (Layout.MapLists, Rows(17, i => lists[i])),
            (Layout.MapMatches, Rows(3, i => i == id ? new KmeshMatch { PortSet = id, SrcSet = id } : i == other ? new KmeshMatch { Flags = Layout.MatchNever } : default)),
            (Layout.MapClauses, Rows(3, i => i == id ? new KmeshRange { First = baseSlot + 4, Count = 1 } : i == other ? new KmeshRange { First = Poison, Count = 1 } : default)),
            (Layout.MapRules, Rows(3, i => i == id ? new KmeshRange { First = baseSlot + 5, Count = 1 } : i == other ? new KmeshRange { First = Poison, Count = 1 } : default)),
            (Layout.MapPolicies, Rows(3, i => i == id ? new KmeshPolicy { RulesFirst = baseSlot + 6, RulesCount = 1, Action = id == 1 ? Layout.ActionAllow : Layout.ActionDeny }
                : i == other ? new KmeshPolicy { RulesFirst = Poison, RulesCount = 1, Action = id == 1 ? Layout.ActionDeny : Layout.ActionAllow } : default)),
            (Layout.MapPortSets, [Entry(new KmeshPortKey { Id = id, Port = 80 }, id)]),
            (Layout.MapAddrSets, [Entry(SetKey(id, Client), id)]),
        ], new Dictionary<(NameKind, uint), string> { [(NameKind.Policy, 1)] = "a/allow", [(NameKind.Policy, 2)] = "b/deny" });
    }

    /// <summary>Decision-table images: A decides at /32, B at /24 with an index that probes only its
    /// own length; behind both the stages fail (a poison eval), so an index of one image with the
    /// decisions of the other misses and ends in an error.</summary>
    public static ImageFile DecisionImage(uint id)
    {
        int len = id == 1 ? 32 : 24;
        var ix = KmeshDecisionIndex.For([len], [], [], []);
        ix.Flags = 0;
        var key = new KmeshDecisionKey { SrcLen = (uint)len, Port = Layout.DecisionOtherPort, Dst = IpKey(Dst) };
        var src = Client.GetAddressBytes();
        if (len == 24) src[3] = 0;
        unsafe { src.CopyTo(new Span<byte>(key.Src, 16)); }
        var decision = new KmeshDecision { Verdict = id == 1 ? Layout.VerdictAllowPolicy : Layout.VerdictDenyPolicy, PolicyId = id };
        return MakeImage("node-x",
        [
            (Layout.MapWorkloads, [Entry(IpKey(Dst), new KmeshWorkload { WorkloadId = 0, EvalId = 0 })]),
            (Layout.MapEvals, Rows(1, _ => new KmeshEval { Flags = Layout.EvalHasAllow, MatchFirst = Poison, MatchCount = 1, PolicyFirst = Poison, PolicyCount = 1 })),
            (Layout.MapPolicies, Rows(3, _ => new KmeshPolicy())),
            (Layout.MapDecisions, [Entry(key, decision)]),
            (Layout.MapDecisionIndex, [Entry(0u, ix)]),
        ]);
    }

    private static readonly IPAddress Vip = IPAddress.Parse("10.77.0.1");
    private static readonly IPAddress EndpointA = IPAddress.Parse("10.77.0.2");
    private static readonly IPAddress EndpointB = IPAddress.Parse("10.77.0.3");

    /// <summary>Load-balancing images: VIP:80 leads A's connects to 10.77.0.2:8081 through service 1
    /// and backend 1, B's to 10.77.0.3:8082 through service 2 and backend 2; each image lacks the
    /// other's endpoint key and holds a backend of the wrong family at the other's backend id, so any
    /// mix leaves the connect on the VIP (counted as an LB error).</summary>
    public static ImageFile ConnectImage(uint id)
    {
        var svcKey = new KmeshSvcKey { Port = 80 };
        unsafe { Vip.GetAddressBytes().CopyTo(new Span<byte>(svcKey.Addr, 16)); }
        var svc = new KmeshService { ServiceId = id, Mode = Layout.LbUnspecified };
        unsafe { svc.Counts[0] = 1; }
        KmeshBackend Backend(uint i)
        {
            if (i != id) return new KmeshBackend { V6 = 1 };
            var b = new KmeshBackend { Port = id == 1 ? 8081u : 8082u };
            unsafe { (id == 1 ? EndpointA : EndpointB).GetAddressBytes().CopyTo(new Span<byte>(b.Addr, 16)); }
            return b;
        }
        return MakeImage("node-x",
        [
            (Layout.MapServices, [Entry(svcKey, svc)]),
            (Layout.MapEndpoints, [Entry(new KmeshEndpointKey { ServiceId = id, Priority = 0, Index = 0 }, id)]),
            (Layout.MapBackends, Rows(3, Backend)),
        ]);
    }

    [KernelFact]
    public void Connects_never_mix_two_images()
    {
        using var fs = new BpfFs();
        using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
        var plane = new DataPlane(loader.Objects);
        using var ns = new NetNs("kmat");
        using var cg = new TestCgroup();
        foreach (var addr in new[] { Vip, EndpointA, EndpointB }) ns.Ip("addr", "add", $"{addr}/32", "dev", "lo");
        using var vip = new Listener(new IPEndPoint(Vip, 80), "vip", ns);
        using var la = new Listener(new IPEndPoint(EndpointA, 8081), "a", ns);
        using var lb = new Listener(new IPEndPoint(EndpointB, 8082), "b", ns);
        using var attached = plane.AttachCgroup(cg.Path);
        var (a, b) = (ConnectImage(1), ConnectImage(2));
        loader.Load(a);
        using var stop = new CancellationTokenSource();
        var swapper = Task.Run(() =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested && n < 4 * Swaps) loader.Load(++n % 2 == 0 ? a : b);
            return n;
        });
        string replies = cg.RunInside("end=$((SECONDS+6)); while [ $SECONDS -lt $end ]; do exec 3<>/dev/tcp/10.77.0.1/80 && read -r l <&3 && echo \"$l\"; exec 3<&-; done",
            TimeSpan.FromSeconds(60), ns.Name);
        stop.Cancel();
        int swaps = swapper.Result;
        var counts = replies.Split('\n', StringSplitOptions.RemoveEmptyEntries).GroupBy(r => r.Trim()).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"{swaps} swaps; replies: {string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"))}; lb errors {plane.LbCount(Layout.LbOutError)}");
        Assert.True(swaps >= Swaps, $"only {swaps} swaps");
        Assert.False(counts.ContainsKey("vip"), $"{counts.GetValueOrDefault("vip")} connects stayed on the VIP: a mix of the two images");
        Assert.Equal(0UL, plane.LbCount(Layout.LbOutError));
        Assert.True(counts.GetValueOrDefault("a") > 0 && counts.GetValueOrDefault("b") > 0, "both images' endpoints must be reached");
    }

    private static readonly uint[] Mixed = [Layout.VerdictAllowNoAllow, Layout.VerdictDenyNoneAllow, Layout.VerdictError, Layout.VerdictUnparsed];

    private (ulong[] Counts, int Swapped, long Runs) Race(Func<ImageFile, ImageFile, DataPlane, Action<int>> swapper, ImageFile a, ImageFile b, DataPlane plane)
    {
        var swap = swapper(a, b, plane);
        swap(0);
        var frame = Packets.Syn(Client, Dst, 80);
        long runs = 0;
        using var stop = new CancellationTokenSource();
        var runner = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) { plane.Run(frame, 100); runs += 100; }
        });
        var clock = Stopwatch.StartNew();
        int swapped = 0;
        try
        {
            for (; swapped < Swaps; swapped++) swap(swapped + 1);
        }
        finally
        {
            stop.Cancel();
            runner.Wait();
        }
        output.WriteLine($"{swapped} swaps in {clock.ElapsedMilliseconds} ms, {runs} packets");
        var counts = Enumerable.Range(0, (int)Layout.VerdictUnparsed + 1).Select(v => plane.VerdictCount((uint)v)).ToArray();
        output.WriteLine("verdicts: " + string.Join(", ", counts));
        return (counts, swapped, runs);
    }

    private static Func<ImageFile, ImageFile, DataPlane, Action<int>> ThroughTheLoader(NodeLoader loader) =>
        (a, b, _) => i => loader.Load(i % 2 == 0 ? a : b);

    private void AssertNoMix((ulong[] Counts, int Swapped, long Runs) r)
    {
        Assert.Equal(Swaps, r.Swapped);
        foreach (var v in Mixed) Assert.True(r.Counts[v] == 0, $"verdict {v} seen {r.Counts[v]} times: a packet saw a mix of the two images");
        Assert.True(r.Counts[Layout.VerdictAllowPolicy] > 0 && r.Counts[Layout.VerdictDenyPolicy] > 0, "both images' verdicts must be observed");
    }

    [KernelFact]
    public void Xdp_verdicts_through_the_stages_never_mix_two_images()
    {
        using var fs = new BpfFs();
        using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
        AssertNoMix(Race(ThroughTheLoader(loader), StagesImage(1), StagesImage(2), new DataPlane(loader.Objects)));
    }

    [KernelFact]
    public void Xdp_verdicts_through_the_decision_table_never_mix_two_images()
    {
        using var fs = new BpfFs();
        using var loader = NodeLoader.Open(fs["kmesh"], TimeSpan.Zero, create: true);
        AssertNoMix(Race(ThroughTheLoader(loader), DecisionImage(1), DecisionImage(2), new DataPlane(loader.Objects)));
    }

    [KernelFact]
    public void The_detector_sees_mixes_when_tables_are_rewritten_in_place()
    {
        using var plane = DataPlane.Load();
        static IEnumerable<MapContent> Tables(ImageFile i) =>
            i.Sections.Select(s => new MapContent(s.Name, s.KeySize, s.ValueSize, s.Entries.Select(e => (e.Key, e.Value)).ToList()));
        var (a, b) = (Tables(StagesImage(1)).ToList(), Tables(StagesImage(2)).ToList());
        var r = Race((_, _, p) => i => p.Fill(i % 2 == 0 ? a : b), StagesImage(1), StagesImage(2), plane);
        Assert.True(Mixed.Sum(v => (long)r.Counts[v]) > 0, "writing tables in place must show mixed verdicts to this detector");
    }
}
