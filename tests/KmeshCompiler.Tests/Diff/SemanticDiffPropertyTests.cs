using System.Collections.Immutable;
using System.Globalization;
using KmeshCompiler.Diff;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Diff;

/// <summary>For random pairs of worlds (a generated world and a mutation of it: policies rewritten,
/// removed, flipped, tweaked by one port or one prefix bit, workloads moved, relabelled, added,
/// removed, enrolled or taken out of the mesh, switched to or from the host network), in worlds with
/// host-network pods, workloads not enrolled in the mesh and attachments of any policy name, every
/// reported region really changes at points sampled inside it, and connections
/// outside every reported region — random ones and ones just across a region's edges — decide the
/// same on both sides. Identities are resolved by address on each side, as the kernel does.</summary>
public class SemanticDiffPropertyTests(ITestOutputHelper output)
{
    private static int Cases(int fallback) => Env("KMESH_PROPERTY_CASES", fallback);

    /// <summary>The first seed (KMESH_PROPERTY_SEED, default 1), so other seeds can be run.</summary>
    private static int FirstSeed() => Env("KMESH_PROPERTY_SEED", 1);

    private static int Env(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    [Fact]
    public void ReportedRegionsChangeAndEverythingElseIsEqual()
    {
        int pairs = Cases(1500);
        long inside = 0, outsideChecked = 0, changes = 0, equalPairs = 0;
        int first = FirstSeed();
        for (int seed = first; seed < first + pairs; seed++)
        {
            var rng = new Random(seed);
            var options = new WorldGenOptions(Workloads: 6 + rng.Next(10), Policies: 3 + rng.Next(8), Namespaces: 2 + rng.Next(2), AttachAnyName: true);
            var a = WorldGen.World(rng, options);
            var donor = WorldGen.World(new Random(seed + 1_000_000), options);
            var b = Mutate(a, donor, rng);
            if (rng.Next(2) == 0) (a, b) = (b, a);
            var evA = new Evaluator(a);
            var evB = new Evaluator(b);
            var r = SemanticDiff.Compute(evA, evB);
            if (r.Equal) equalPairs++;
            changes += r.Changes.Length;
            bool IsWorkload(IpAddr x) => evA.WorkloadAt(x) is not null || evB.WorkloadAt(x) is not null;
            Decision Dec(Evaluator ev, IpAddr s, IpAddr d, ushort p) => ev.Decide(new Connection(s, d, p, ev.IdentityOf(s))).Decision;
            string Where(IpAddr s, IpAddr d, ushort p) => $"seed {seed}: {s} -> {d}:{p}";

            foreach (var c in r.Changes)
                for (int k = 0; k < 4; k++)
                {
                    var src = SampleSource(c.Sources, rng, IsWorkload);
                    if (src is null) continue;
                    var dst = c.Destinations[rng.Next(c.Destinations.Length)].Address;
                    var pr = c.Ports[rng.Next(c.Ports.Length)];
                    ushort port = (ushort)rng.Next(pr.First, pr.Last + 1);
                    var before = Dec(evA, src.Value, dst, port);
                    var after = Dec(evB, src.Value, dst, port);
                    Assert.True(before == c.Before.Decision && after == c.After.Decision,
                        $"{Where(src.Value, dst, port)} is inside a reported change {c.Before.Decision}->{c.After.Decision} but decides {before}->{after}");
                    inside++;
                }

            var points = new List<(IpAddr S, IpAddr D, ushort P)>();
            for (int k = 0; k < 40; k++)
            {
                var conn = WorldGen.Connection(rng, rng.Next(2) == 0 ? a : b);
                points.Add((conn.Source, conn.Destination, conn.Port));
            }
            // Just across the edges of reported regions: the first port or address outside.
            foreach (var c in r.Changes.Take(6))
            {
                var d = c.Destinations[0].Address;
                var src = SampleSource(c.Sources, rng, IsWorkload) ?? d;
                foreach (var pr in c.Ports)
                {
                    if (pr.First > 0) points.Add((src, d, (ushort)(pr.First - 1)));
                    if (pr.Last < 65535) points.Add((src, d, (ushort)(pr.Last + 1)));
                }
                foreach (var range in c.Sources.AnyAddress.Concat(c.Sources.Outside))
                {
                    if (range.First.Value > 0) points.Add((new IpAddr(range.First.Value - 1, range.First.IsV6), d, c.Ports[0].First));
                    var max = range.Last.IsV6 ? UInt128.MaxValue : uint.MaxValue;
                    if (range.Last.Value < max) points.Add((new IpAddr(range.Last.Value + 1, range.Last.IsV6), d, c.Ports[0].First));
                }
                foreach (var w in c.Sources.Workloads.Take(3))
                    foreach (var other in a.Workloads.Concat(b.Workloads).SelectMany(x => x.Addresses).Take(20))
                        points.Add((other, d, c.Ports[0].First));
            }
            foreach (var (s, d, p) in points)
            {
                bool isWl = IsWorkload(s);
                var before = Dec(evA, s, d, p);
                var after = Dec(evB, s, d, p);
                bool reported = r.Changes.Any(c => c.Contains(s, isWl, d, p));
                if (reported) Assert.NotEqual(before, after);
                else
                {
                    Assert.True(before == after, $"{Where(s, d, p)} changes {before}->{after} but is in no reported region");
                    outsideChecked++;
                }
            }
        }
        output.WriteLine($"seeds {first}-{first + pairs - 1}: {pairs} world pairs ({equalPairs} equal), {changes} changes; {inside} points inside changes, {outsideChecked} outside checked equal");
        Assert.True(changes > pairs / 2, "the mutations should change something most of the time");
    }

    private static IpAddr? SampleSource(DiffSources s, Random rng, Func<IpAddr, bool> isWorkload)
    {
        int kinds = (s.AnyAddress.IsEmpty ? 0 : 1) + (s.Outside.IsEmpty ? 0 : 1) + (s.Workloads.IsEmpty ? 0 : 1);
        if (kinds == 0) return null;
        var choices = new List<int>();
        if (!s.AnyAddress.IsEmpty) choices.Add(0);
        if (!s.Outside.IsEmpty) choices.Add(1);
        if (!s.Workloads.IsEmpty) choices.Add(2);
        switch (choices[rng.Next(choices.Count)])
        {
            case 0: return InRange(s.AnyAddress[rng.Next(s.AnyAddress.Length)], rng);
            case 1:
                for (int t = 0; t < 20; t++)
                {
                    var x = InRange(s.Outside[rng.Next(s.Outside.Length)], rng);
                    if (!isWorkload(x)) return x;
                }
                return null;
            default: return s.Workloads[rng.Next(s.Workloads.Length)].Address;
        }
    }

    private static IpAddr InRange(IpRange r, Random rng)
    {
        UInt128 span = r.Last.Value - r.First.Value;
        Span<byte> bytes = stackalloc byte[16];
        rng.NextBytes(bytes);
        UInt128 x = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(bytes);
        // Edges are where mistakes hide: pick them often.
        UInt128 off = rng.Next(4) switch { 0 => 0, 1 => span, _ => span == UInt128.MaxValue ? x : x % (span + 1) };
        return new IpAddr(r.First.Value + off, r.First.IsV6);
    }

    /// <summary>One to three random edits.</summary>
    private static World Mutate(World w, World donor, Random rng)
    {
        var policies = w.Policies.ToList();
        var workloads = w.Workloads.ToList();
        for (int n = rng.Next(1, 4); n > 0; n--)
        {
            switch (rng.Next(12))
            {
                case 0 when policies.Count > 0 && donor.Policies.Length > 0:
                {
                    int i = rng.Next(policies.Count);
                    policies[i] = policies[i] with { Rules = donor.Policies[rng.Next(donor.Policies.Length)].Rules };
                    break;
                }
                case 1 when policies.Count > 0: policies.RemoveAt(rng.Next(policies.Count)); break;
                case 2 when policies.Count > 0:
                {
                    int i = rng.Next(policies.Count);
                    policies[i] = policies[i] with { Action = policies[i].Action == PolicyAction.Allow ? PolicyAction.Deny : PolicyAction.Allow };
                    break;
                }
                case 3 when workloads.Count > 0:
                {
                    int i = rng.Next(workloads.Count);
                    var nss = w.Namespaces.Select(x => x.Name).ToList();
                    workloads[i] = workloads[i] with { Namespace = nss[rng.Next(nss.Count)] };
                    break;
                }
                case 4 when workloads.Count > 0:
                {
                    int i = rng.Next(workloads.Count);
                    workloads[i] = workloads[i] with { ServiceAccount = rng.Next(2) == 0 ? "sa0" : "reader" };
                    break;
                }
                case 5 when workloads.Count > 0:
                {
                    int i = rng.Next(workloads.Count);
                    var sel = policies.Where(p => p.Scope == PolicyScope.WorkloadSelector).Select(p => p.Key).ToList();
                    var attached = workloads[i].AuthorizationPolicies;
                    workloads[i] = workloads[i] with
                    {
                        AuthorizationPolicies = attached.Length > 0 && rng.Next(2) == 0
                            ? attached.RemoveAt(rng.Next(attached.Length))
                            : sel.Count > 0 ? attached.Add(sel[rng.Next(sel.Count)]) : attached,
                    };
                    break;
                }
                case 6 or 7 when policies.Count > 0:
                {
                    int i = rng.Next(policies.Count);
                    policies[i] = Tweak(policies[i], rng);
                    break;
                }
                case 8 when workloads.Count > 0:
                {
                    var src = workloads[rng.Next(workloads.Count)];
                    if (rng.Next(2) == 0) workloads.Remove(src);
                    else workloads.Add(src with
                    {
                        Uid = src.Uid + "-copy",
                        Name = src.Name + "-copy",
                        Addresses = [.. src.Addresses.Select(x => new IpAddr(x.Value + 0x100, x.IsV6))],
                    });
                    break;
                }
                case 9 when policies.Count > 0:
                {
                    int i = rng.Next(policies.Count);
                    policies[i] = policies[i] with { DryRun = !policies[i].DryRun };
                    break;
                }
                case 10 when workloads.Count > 0:
                {
                    int i = rng.Next(workloads.Count);
                    workloads[i] = workloads[i] with { Enrolled = !workloads[i].Enrolled };
                    break;
                }
                case 11 when workloads.Count > 0:
                {
                    int i = rng.Next(workloads.Count);
                    workloads[i] = workloads[i] with
                    {
                        NetworkMode = workloads[i].NetworkMode == NetworkMode.Standard ? NetworkMode.HostNetwork : NetworkMode.Standard,
                    };
                    break;
                }
            }
        }
        return new World(w.Namespaces, w.Nodes, [.. workloads], w.Services, [.. policies]).Canonical();
    }

    /// <summary>The smallest edits: one port more or less, one prefix one bit longer or shorter,
    /// one namespace string replaced.</summary>
    private static Policy Tweak(Policy p, Random rng)
    {
        var all = p.Rules.SelectMany((r, ri) => r.Clauses.SelectMany((c, ci) => c.Matches.Select((m, mi) => (ri, ci, mi)))).ToList();
        if (all.Count == 0) return p with { Rules = [new Rule([], SourceLocation.None)] };
        var (ri0, ci0, mi0) = all[rng.Next(all.Count)];
        var m = p.Rules[ri0].Clauses[ci0].Matches[mi0];
        switch (rng.Next(4))
        {
            case 0:
                m = m.DestinationPorts.IsEmpty ? m with { NotDestinationPorts = m.NotDestinationPorts.Add((uint)rng.Next(1, 10000)) }
                    : m with { DestinationPorts = m.DestinationPorts.Add(m.DestinationPorts[0] + 1) };
                break;
            case 1 when !m.SourceIps.IsEmpty:
            {
                var x = m.SourceIps[0];
                int len = Math.Clamp(x.Length + (rng.Next(2) == 0 ? 1 : -1), 0, x.Address.Bits);
                m = m with { SourceIps = m.SourceIps.SetItem(0, new IpPrefix(x.Address, len)) };
                break;
            }
            case 2:
                m = m with { NotSourceIps = m.NotSourceIps.Add(IpPrefix.Host(IpAddr.V4(0x0A000000u | (uint)rng.Next(1, 40)))) };
                break;
            default:
                m = m with { Namespaces = m.Namespaces.IsEmpty ? [new StringMatch(StringMatchKind.Exact, "ns0")] : m.Namespaces.RemoveAt(0) };
                break;
        }
        var clause = p.Rules[ri0].Clauses[ci0];
        var rule = p.Rules[ri0];
        return p with { Rules = p.Rules.SetItem(ri0, rule with { Clauses = rule.Clauses.SetItem(ci0, clause with { Matches = clause.Matches.SetItem(mi0, m) }) }) };
    }
}
