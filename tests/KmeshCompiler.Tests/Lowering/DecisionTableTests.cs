using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;
using static KmeshCompiler.Tests.Lowering.W;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>The decision table (km_decisions): its source partition at prefix boundaries, families,
/// /0, unknown sources, the per-eval cap and the fallback to the stages. Every probe is decided both
/// by the table (as the entry program does) and by the stages alone, and the two must agree.</summary>
public class DecisionTableTests
{
    private static readonly Workload Server = Pod("app", "server", "node-a", "10.0.0.1", "fd00::1");
    private static readonly Workload Client = Pod("app", "client", "node-b", "10.0.0.2", "fd00::2");
    private static readonly Workload Other = Pod("other", "intruder", "node-b", "10.0.9.9", "fd00::9");

    private static ImageFile Compile(LoweringLimits? limits, params Policy[] policies)
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(World([Server, Client, Other], policies), "node-a", bag, limits);
        Assert.True(image is not null, string.Join("\n", bag.Items));
        return ImageReader.Read("t", image.ToBytes(), bag)!;
    }

    /// <summary>Decides a SYN both ways and returns the table's verdict (asserting it came from the
    /// table when <paramref name="byTable"/>).</summary>
    private static KernelVerdict Both(ImageFile image, string src, string dst = "10.0.0.1", uint port = 80, bool byTable = true)
    {
        var fast = new ImageInterpreter(image).Syn(IpAddr.Parse(src), IpAddr.Parse(dst), port);
        var slow = new ImageInterpreter(image, fastPath: false).Syn(IpAddr.Parse(src), IpAddr.Parse(dst), port);
        Assert.Equal(slow.Action, fast.Action);
        Assert.Equal(slow.Verdict, fast.Verdict);
        Assert.Equal(slow.Policy, fast.Policy);
        Assert.Equal(slow.PolicyMatched.Order(), fast.PolicyMatched.Order());
        // The stages take every tail call, or none when no policy is a candidate.
        Assert.True(slow.TailCalls is 0 or Layout.TailCalls, $"{slow.TailCalls} tail calls");
        Assert.Equal(byTable ? 0 : slow.TailCalls, fast.TailCalls);
        Assert.True(byTable || slow.TailCalls > 0, "decided without the stages");
        return fast;
    }

    private static string? Name(ImageFile img, KernelVerdict v) => v.Policy is { } p ? img.Name(NameKind.Policy, p) : null;

    /// <summary>The entries for sources without identity (keyed by address prefix).</summary>
    private static List<DecisionEntry> Entries(ImageFile img) => [.. new ImageTables(img).Decisions.Entries.Where(e => e.Class is null)];

    [Fact]
    public void AdjacentPrefixesSplitExactlyAtTheirBoundary()
    {
        var img = Compile(null,
            Policy("app", "allow-low", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/25")))),
            Policy("app", "deny-high", PolicyAction.Deny, Rule(Clause(From("10.0.0.128/25")))));
        Assert.Equal("app/allow-low", Name(img, Both(img, "10.0.0.0")));
        Assert.Equal("app/allow-low", Name(img, Both(img, "10.0.0.127")));
        Assert.Equal("app/deny-high", Name(img, Both(img, "10.0.0.128")));
        Assert.Equal("app/deny-high", Name(img, Both(img, "10.0.0.255")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.1.0").Verdict);
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "9.255.255.255").Verdict);
        var v4 = Entries(img).Where(e => !e.V6).Select(e => e.Src.ToString()).ToList();
        Assert.Equal(["0.0.0.0/0", "10.0.0.0/25", "10.0.0.128/25"], v4);
    }

    [Fact]
    public void NestedPrefixesTakeTheLongestAndRegionsDecidingLikeTheirParentAreMerged()
    {
        var img = Compile(null,
            Policy("app", "allow-8", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/8")))),
            Policy("app", "allow-24", PolicyAction.Allow, Rule(Clause(From("10.1.2.0/24")))),
            Policy("app", "deny-16", PolicyAction.Deny, Rule(Clause(From("10.1.0.0/16")))));
        Assert.Equal("app/allow-8", Name(img, Both(img, "10.0.0.2")));
        Assert.Equal("app/deny-16", Name(img, Both(img, "10.1.0.0")));
        Assert.Equal("app/deny-16", Name(img, Both(img, "10.1.2.3")));   // deny wins inside the /24
        Assert.Equal("app/allow-8", Name(img, Both(img, "10.2.0.0")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "11.0.0.0").Verdict);
        var v4 = Entries(img).Where(e => !e.V6).ToList();
        // 10.1.2.0/24 decides like 10.1.0.0/16 (deny-16) but counts allow-24 too: kept, with all three.
        var inner = v4.Single(e => e.Src.ToString() == "10.1.2.0/24");
        Assert.Equal(3u, inner.Value.Count);
        // A policy that only repeats its parent's decision and counters is merged away.
        var img2 = Compile(null,
            Policy("app", "allow-8", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/8", "10.1.0.0/16")))));
        Assert.Equal(["0.0.0.0/0", "10.0.0.0/8"], Entries(img2).Where(e => !e.V6).Select(e => e.Src.ToString()));
        Assert.Equal("app/allow-8", Name(img2, Both(img2, "10.1.0.1")));
    }

    [Fact]
    public void FamiliesHaveTheirOwnPartitionAndDefaultRegion()
    {
        var img = Compile(null,
            Policy("app", "allow-v6", PolicyAction.Allow, Rule(Clause(From("fd00::/64")))),
            Policy("app", "deny-v4", PolicyAction.Deny, Rule(Clause(From("10.0.0.0/8")))));
        Assert.Equal("app/allow-v6", Name(img, Both(img, "fd00::2", "fd00::1")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "fd01::2", "fd00::1").Verdict);
        // An IPv4-mapped address is IPv6: no IPv4 prefix contains it.
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "::ffff:10.0.0.2", "fd00::1").Verdict);
        Assert.Equal("app/deny-v4", Name(img, Both(img, "10.0.0.2")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "192.168.0.1").Verdict);
        var e = Entries(img);
        Assert.Contains(e, x => !x.V6 && x.Src.Length == 0);
        Assert.Contains(e, x => x.V6 && x.Src.Length == 0);
        Assert.DoesNotContain(e, x => x.V6 && x.Src.ToString().StartsWith("10.", StringComparison.Ordinal));
    }

    [Fact]
    public void SlashZeroAndWholeSpaceCoversNeedNoOtherRegion()
    {
        var img = Compile(null, Policy("app", "allow-all", PolicyAction.Allow, Rule(Clause(From("0.0.0.0/0")))));
        Assert.Equal("app/allow-all", Name(img, Both(img, "1.2.3.4")));
        Assert.Equal(["0.0.0.0/0"], Entries(img).Where(e => !e.V6).Select(e => e.Src.ToString()));
        // Two halves covering the space: the /0 region is empty, so not stored; every address still
        // finds its half.
        var halves = Compile(null,
            Policy("app", "deny-low", PolicyAction.Deny, Rule(Clause(From("0.0.0.0/1")))),
            Policy("app", "allow-high", PolicyAction.Allow, Rule(Clause(From("128.0.0.0/1")))));
        Assert.Equal(["0.0.0.0/1", "128.0.0.0/1"], Entries(halves).Where(e => !e.V6).Select(e => e.Src.ToString()));
        Assert.Equal("app/deny-low", Name(halves, Both(halves, "127.255.255.255")));
        Assert.Equal("app/allow-high", Name(halves, Both(halves, "128.0.0.0")));
        Assert.Equal("app/allow-high", Name(halves, Both(halves, "255.255.255.255")));
    }

    [Fact]
    public void UnknownSourcesAreDecidedAsTheIdentityRulesSay()
    {
        // Namespace "app": the client's addresses; an unknown address has no identity.
        var img = Compile(null, Policy("app", "allow-app", PolicyAction.Allow, Rule(Clause(Empty with { Namespaces = [Exact("app")] }))));
        Assert.Equal("app/allow-app", Name(img, Both(img, "10.0.0.2")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.0.3").Verdict);
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.9.9").Verdict);
        // notPrincipals admits plaintext (unknown) sources but not the named workload.
        var not = Compile(null, Policy("app", "allow-not-intruder", PolicyAction.Allow,
            Rule(Clause(Empty with { NotPrincipals = [Exact("cluster.local/ns/other/sa/default")] }))));
        Assert.Equal("app/allow-not-intruder", Name(not, Both(not, "192.0.2.1")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(not, "10.0.9.9").Verdict);
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(not, "fd00::9", "fd00::1").Verdict);
    }

    [Fact]
    public void PortsNamedInsideTheDefaultClassAreKeyedByPort()
    {
        // The policy can match on any port (its second match has no port test), so port 80 has no
        // port-index entry; its first match still tells port 80 apart inside the default class.
        var img = Compile(null,
            Policy("app", "deny-mixed", PolicyAction.Deny, Rule(Clause(
                Empty with { SourceIps = [IpPrefix.Parse("10.0.0.2/32")], DestinationPorts = [80] }, From("10.0.9.9")))));
        Assert.Empty(new ImageTables(img).PortIndex);
        Assert.Contains(Entries(img), e => e.Port == 80);
        Assert.True(new ImageTables(img).Decisions.Index.HasPort(80));
        Assert.False(new ImageTables(img).Decisions.Index.HasPort(81));
        Assert.Equal("app/deny-mixed", Name(img, Both(img, "10.0.0.2", port: 80)));
        Assert.Equal(Layout.VerdictAllowNoAllow, Both(img, "10.0.0.2", port: 81).Verdict);
        Assert.Equal("app/deny-mixed", Name(img, Both(img, "10.0.9.9", port: 81)));
        Assert.Equal("app/deny-mixed", Name(img, Both(img, "10.0.9.9", port: 80)));
        Assert.Equal(Layout.VerdictAllowNoAllow, Both(img, "10.0.0.3", port: 80).Verdict);
        Assert.Contains("port 80: from 10.0.0.2/32 without identity -> DENY by app/deny-mixed", ImageText.Render(img));
        Assert.Contains("other ports: from 10.0.9.9/32 without identity -> DENY by app/deny-mixed", ImageText.Render(img));
    }

    [Fact]
    public void DryRunMatchesAreCountedByTheTable()
    {
        var img = Compile(null,
            Policy("app", "dry-deny", PolicyAction.Deny, Rule(Clause(From("10.0.0.2")))) with { DryRun = true },
            Policy("app", "allow-client", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/24")))));
        var v = Both(img, "10.0.0.2");
        Assert.Equal("app/allow-client", Name(img, v));
        Assert.Equal(2, v.PolicyMatched.Length);
        var entry = Entries(img).Single(e => e.Src.ToString() == "10.0.0.2/32");
        var bytes = Rows.Bytes(entry.Value);
        Assert.Equal(1, Enumerable.Range(0, (int)entry.Value.Count).Count(i => (BitConverter.ToUInt32(bytes, 16 + 4 * i) & Layout.DecisionDryRun) != 0));
        Assert.Contains("from 10.0.0.2/32 without identity -> ALLOW by app/allow-client; matched app/dry-deny (dry-run), app/allow-client", ImageText.Render(img));
    }

    [Fact]
    public void AnEvalOverTheRegionCapHasNoTableAndTakesTheStages()
    {
        var policies = Enumerable.Range(0, 10).Select(k => Policy("app", $"allow-{k}", PolicyAction.Allow, Rule(Clause(From($"10.{k}.0.0/16"))))).ToArray();
        var capped = Compile(new LoweringLimits { MaxEvalDecisions = 5 }, policies);
        Assert.Empty(Entries(capped));
        Assert.Equal("app/allow-3", Name(capped, Both(capped, "10.3.1.1", byTable: false)));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(capped, "10.10.0.1", byTable: false).Verdict);
        // Under the cap the same world is decided by the table.
        var free = Compile(null, policies);
        Assert.Equal("app/allow-3", Name(free, Both(free, "10.3.1.1")));
        // A spent compile-time budget leaves the remaining evals to the stages.
        var spent = Compile(new LoweringLimits { MaxDecisionWork = 0 }, policies);
        Assert.Empty(Entries(spent));
        Assert.Equal("app/allow-3", Name(spent, Both(spent, "10.3.1.1", byTable: false)));
        // Off: no table at all.
        var off = Compile(new LoweringLimits { DecisionTables = false }, policies);
        Assert.Empty(Entries(off));
        Assert.Equal("app/allow-3", Name(off, Both(off, "10.3.1.1", byTable: false)));
    }

    private static readonly Workload Web = Pod("web", "front", "node-a", "10.0.0.5", "fd00::5");

    private static ImageFile CompileWith(LoweringLimits? limits, Workload[] workloads, params Policy[] policies)
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(World(workloads, policies), "node-a", bag, limits);
        Assert.True(image is not null, string.Join("\n", bag.Items));
        return ImageReader.Read("t", image.ToBytes(), bag)!;
    }

    [Fact]
    public void APortKeyedForOneAddressFallsBackToOtherPortsForAnother()
    {
        // Port 80 is keyed for app/server (its own eval); web/front has nothing special on port 80,
        // so its probes with port 80 miss and the entry retries with the other-ports key.
        var img = CompileWith(null, [Server, Client, Web],
            Policy("app", "allow-80", PolicyAction.Allow, Rule(Clause(From("10.0.0.2")), Clause(Ports(80)))),
            Policy("web", "deny-intruder", PolicyAction.Deny, Rule(Clause(From("10.0.9.0/24")))));
        Assert.True(new ImageTables(img).Decisions.Index.HasPort(80));
        Assert.DoesNotContain(Entries(img), e => e.Dst == IpAddr.Parse("10.0.0.5") && e.Port == 80);
        Assert.Equal("app/allow-80", Name(img, Both(img, "10.0.0.2", "10.0.0.1", 80)));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.0.2", "10.0.0.1", 81).Verdict);
        Assert.Equal("web/deny-intruder", Name(img, Both(img, "10.0.9.1", "10.0.0.5", 80)));
        Assert.Equal(Layout.VerdictAllowNoAllow, Both(img, "10.0.0.2", "10.0.0.5", 80).Verdict);
        // Not a local workload: the table misses, and the SYN is not evaluated.
        Assert.Equal(KernelAction.NotEvaluated, new ImageInterpreter(img).Syn(IpAddr.Parse("10.0.0.5"), IpAddr.Parse("10.0.0.2"), 80).Action);
    }

    [Fact]
    public void TheLocalAddressFilterPassesStrangersWithoutALookupAndNeverALocalWorkload()
    {
        var img = CompileWith(null, [Server, Client, Web], Policy("app", "allow-client", PolicyAction.Allow, Rule(Clause(From("10.0.0.2")))));
        var ix = new ImageTables(img).Decisions.Index;
        foreach (var local in new[] { "10.0.0.1", "fd00::1", "10.0.0.5", "fd00::5" }) Assert.True(ix.MayBeLocal(IpAddr.Parse(local).Value), local);
        Assert.False(ix.MayBeLocal(IpAddr.Parse("10.0.0.2").Value));
        // 10.7.0.1 shares 10.0.0.1's last two bytes: the filter lets it through, km_workloads says no.
        Assert.True(ix.MayBeLocal(IpAddr.Parse("10.7.0.1").Value));
        foreach (var stranger in new[] { "10.0.0.2", "10.7.0.1" })
            Assert.Equal(KernelAction.NotEvaluated, new ImageInterpreter(img).Syn(IpAddr.Parse("10.0.0.5"), IpAddr.Parse(stranger), 80).Action);
        Assert.Equal("app/allow-client", Name(img, Both(img, "10.0.0.2", "10.0.0.1")));
        Assert.Contains("local-address filter: 2 of 65536 bits set", ImageText.Render(img));
        // Without the decision table the filter is still there.
        var off = CompileWith(new LoweringLimits { DecisionTables = false }, [Server, Client, Web]);
        Assert.False(new ImageTables(off).Decisions.Index.MayBeLocal(IpAddr.Parse("10.0.0.2").Value));
    }

    [Fact]
    public void APerPortTableThatCouldNotBeBuiltIsNotAnsweredByTheOtherPortsTable()
    {
        // app/server: port 80 has ten allow policies (over a cap of 10 entries), every other port has
        // none listed (a one-region table: denied, no allow matches). web/front keys port 80 too.
        var policies = Enumerable.Range(0, 10)
            .Select(k => Policy("app", $"allow-{k}", PolicyAction.Allow, Rule(Clause(From($"10.{k}.0.0/16")), Clause(Ports(80)))))
            .Append(Policy("web", "allow-80", PolicyAction.Allow, Rule(Clause(From("10.0.0.2")), Clause(Ports(80)))))
            .ToArray();
        var img = CompileWith(new LoweringLimits { MaxEvalDecisions = 10 }, [Server, Client, Web], policies);
        var sentinel = Entries(img).Single(e => e.Dst == IpAddr.Parse("10.0.0.1") && e.Port == 80);
        Assert.Equal(0, sentinel.Src.Length);
        Assert.NotEqual(0u, sentinel.Value.Flags & Layout.DecisionStages);
        Assert.Equal("app/allow-3", Name(img, Both(img, "10.3.1.1", "10.0.0.1", 80, byTable: false)));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.3.1.1", "10.0.0.1", 81).Verdict);
        Assert.Equal("web/allow-80", Name(img, Both(img, "10.0.0.2", "10.0.0.5", 80)));
    }

    [Fact]
    public void NamedPortsBeyondTheKeyedOnesAreLeftToTheStagesByTheOtherPortsEntries()
    {
        // One policy that can match on any port (its last match has no port test) names three ports
        // inside the default class; two are keyed at most, and the server serves none of them (no
        // backends), so none is: its other-ports entries carry the named ports as stage ports.
        static Match On(string src, uint port) => Empty with { SourceIps = [IpPrefix.Parse(src)], DestinationPorts = [port] };
        var img = Compile(new LoweringLimits { MaxDecisionPorts = 2, MaxDecisionBusyPorts = 0 },
            Policy("app", "allow-mixed", PolicyAction.Allow, Rule(Clause(On("10.0.0.2/32", 80), On("10.0.0.2/32", 81), On("10.0.9.9/32", 82), From("10.1.0.0/16")))));
        Assert.Empty(new ImageTables(img).PortIndex);
        var other = new ImageTables(img).Decisions.Entries.Where(e => e.Dst == IpAddr.Parse("10.0.0.1") && e.Port == Layout.DecisionOtherPort).ToList();
        Assert.NotEmpty(other);
        Assert.All(other, e => Assert.NotEqual(0u, e.Value.StagePorts));
        Assert.Equal([80u, 81u, 82u], new ImageTables(img).PortSets[other[0].Value.StagePorts]);
        // Named ports: the stages, with the verdict the stages give.
        Assert.Equal("app/allow-mixed", Name(img, Both(img, "10.0.0.2", port: 80, byTable: false)));
        Assert.Equal("app/allow-mixed", Name(img, Both(img, "10.0.9.9", port: 82, byTable: false)));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.9.9", port: 81, byTable: false).Verdict);
        // Any other port: the table.
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.0.2", port: 443).Verdict);
        Assert.Equal("app/allow-mixed", Name(img, Both(img, "10.1.2.3", port: 443)));
        Assert.Contains("take the stages", ImageText.Render(img));
    }

    [Fact]
    public void APartitionNeedingMoreSourceLengthsThanTheEntryProbesTakesTheStages()
    {
        // Disjoint prefixes of lengths /16 .. /25 and /0: eleven, over the eight the entry probes.
        var policies = Enumerable.Range(0, 10)
            .Select(k => Policy("app", $"allow-{k}", PolicyAction.Allow, Rule(Clause(From($"10.{k + 1}.0.0/{16 + k}")))))
            .ToArray();
        var img = Compile(null, policies);
        Assert.DoesNotContain(Entries(img), e => !e.V6);
        Assert.Equal("app/allow-2", Name(img, Both(img, "10.3.0.9", byTable: false)));
        Assert.Contains("IPv4 source lengths probed: (none)", ImageText.Render(img));
        // Five of them (six lengths) are decided by the table.
        var fewer = Compile(null, policies.Take(5).ToArray());
        Assert.Equal("app/allow-2", Name(fewer, Both(fewer, "10.3.0.9")));
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(fewer, "10.3.128.0").Verdict);
        Assert.Contains("IPv4 source lengths probed: /20 /19 /18 /17 /16 /0", ImageText.Render(fewer));
    }

    [Fact]
    public void RegionsWithMoreMatchedPoliciesThanAValueHoldsAreLeftToTheStages()
    {
        var policies = Enumerable.Range(0, Layout.DecisionMaxMatched + 1)
            .Select(k => Policy("app", $"allow-{k}", PolicyAction.Allow, Rule(Clause(From("10.0.0.0/24"))))).ToArray();
        var img = Compile(null, policies);
        var v = Both(img, "10.0.0.2", byTable: false);
        Assert.Equal(Layout.DecisionMaxMatched + 1, v.PolicyMatched.Length);
        Assert.Equal(Layout.VerdictDenyNoneAllow, Both(img, "10.0.1.2").Verdict);
        Assert.Contains("from 10.0.0.0/24 without identity -> evaluate by the stages", ImageText.Render(img));
    }

    [Fact]
    public void EveryStoredBoundaryDecidesLikeTheStagesInGeneratedWorlds()
    {
        int probes = 0;
        for (int seed = 1; seed <= 25; seed++)
        {
            var rng = new Random(seed);
            var world = WorldGen.World(rng, seed % 2 == 0 ? new WorldGenOptions(Policies: 30, Workloads: 20) : null);
            string node = world.Nodes[rng.Next(world.Nodes.Length)].Name;
            var image = Lowerer.Lower(world, node, new DiagnosticBag());
            Assert.NotNull(image);
            var t = new ImageTables(image);
            var fast = new ImageInterpreter(t);
            var slow = new ImageInterpreter(t, fastPath: false);
            foreach (var (dst, w) in t.Workloads)
            {
                var ports = t.PortIndex.Keys.Where(k => k.Workload == w.WorkloadId).Select(k => k.Port)
                    .Concat(t.Decisions.Entries.Where(e => e.Port != Layout.DecisionOtherPort).Select(e => e.Port)).Append(1u).Append(9080u).Append(443u).Distinct();
                var sources = t.Decisions.Entries.Where(e => e.V6 == dst.IsV6).SelectMany(e => Edges(e.Src)).Distinct().Take(200);
                foreach (var port in ports)
                    foreach (var src in sources)
                    {
                        var a = fast.Syn(src, dst, port);
                        var b = slow.Syn(src, dst, port);
                        string ctx = $"seed {seed} {src} -> {dst}:{port}";
                        Assert.True(a.Action == b.Action && a.Verdict == b.Verdict && a.Policy == b.Policy
                            && a.PolicyMatched.Order().SequenceEqual(b.PolicyMatched.Order()), ctx + $" table {a.Action} {a.Verdict} {a.Policy} [{string.Join(",", a.PolicyMatched)}] stages {b.Action} {b.Verdict} {b.Policy} [{string.Join(",", b.PolicyMatched)}] {b.Error}");
                        probes++;
                    }
            }
        }
        Assert.True(probes > 1000, $"{probes} probes");
    }

    /// <summary>The first and last address of a prefix and the addresses just outside it.</summary>
    private static IEnumerable<IpAddr> Edges(IpPrefix p)
    {
        UInt128 top = p.Address.IsV6 ? UInt128.MaxValue : uint.MaxValue;
        UInt128 first = p.Network.Value, last = first | (p.Length >= 128 ? 0 : top >> p.Length);
        yield return new IpAddr(first, p.Address.IsV6);
        yield return new IpAddr(last, p.Address.IsV6);
        if (first > 0) yield return new IpAddr(first - 1, p.Address.IsV6);
        if (last < top) yield return new IpAddr(last + 1, p.Address.IsV6);
    }
}
