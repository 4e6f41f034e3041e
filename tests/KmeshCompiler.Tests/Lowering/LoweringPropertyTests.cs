using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>The image, walked as the programs walk it, decides every connection exactly as the
/// reference evaluator does (identity resolved by address), and offers exactly the endpoints the
/// reference load balancer makes selectable.</summary>
public class LoweringPropertyTests(ITestOutputHelper output)
{
    private static int Cases(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("KMESH_PROPERTY_CASES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    private static (World World, string Node, ImageFile Image) Compile(int seed, WorldGenOptions? options = null)
    {
        var rng = new Random(seed);
        // Workloads also name policies of other scopes and missing ones, as xDS allows.
        var world = WorldGen.World(rng, (options ?? new()) with { AttachAnyName = true });
        string node = world.Nodes[rng.Next(world.Nodes.Length)].Name;
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, node, bag);
        Assert.True(image is not null, $"seed {seed}: lowering failed: {string.Join("\n", bag.Items)}");
        // Evaluate what the loader will load: the bytes read back.
        var reread = ImageReader.Read("seed", image.ToBytes(), bag);
        Assert.True(reread is not null, string.Join("\n", bag.Items));
        return (world, node, reread);
    }

    [Fact]
    public void ImageDecidesEveryConnectionLikeTheReferenceEvaluator() =>
        Differential(0, seed => seed % 3 == 0 ? new WorldGenOptions(Policies: 30, Workloads: 20) : null);

    /// <summary>Worlds whose policies test mostly identity: principals and notPrincipals "*",
    /// namespace globs, exact principals, negations, a third of the policies mesh-wide (shared
    /// blocks), a dozen service accounts per namespace; a fifth of the sources have no identity.</summary>
    [Fact]
    public void IdentityHeavyImagesDecideEveryConnectionLikeTheReferenceEvaluator()
    {
        var (unknown, shared) = Differential(100_000, seed => new WorldGenOptions(Namespaces: 5, Workloads: 30, Policies: 25, IdentityHeavy: true));
        Assert.True(unknown > 100, $"only {unknown} connections from sources without identity");
        Assert.True(shared > 0, "no eval shares a block of mesh-wide policies");
    }

    /// <summary>Returns the connections evaluated from sources without identity, and the images with
    /// a shared block.</summary>
    private (int Unknown, int Shared) Differential(int seedBase, Func<int, WorldGenOptions?> options)
    {
        int perWorld = 60;
        int worlds = Cases(4000) / perWorld + 1;
        int evaluated = 0, notLocal = 0, denies = 0, byTable = 0, notEnforced = 0, hostSources = 0, unknown = 0, shared = 0;
        for (int seed = seedBase + 1; seed <= seedBase + worlds; seed++)
        {
            var (world, node, image) = Compile(seed, options(seed));
            if (new ImageTables(image).Evals.Any(e => e.Shared != 0)) shared++;
            var interp = new ImageInterpreter(image);
            var stagesOnly = new ImageInterpreter(image, fastPath: false);
            var ev = new Evaluator(world);
            var rng = new Random(seed * 7919);
            var localAddrs = world.Workloads.Where(w => w.Node == node).SelectMany(w => w.Addresses).ToList();
            for (int i = 0; i < perWorld; i++)
            {
                var c = WorldGen.Connection(rng, world);
                if (localAddrs.Count > 0 && rng.Next(3) != 0)
                {
                    var dst = localAddrs[rng.Next(localAddrs.Count)];
                    var srcs = world.Workloads.SelectMany(w => w.Addresses).Where(a => a.IsV6 == dst.IsV6).ToList();
                    var src = srcs.Count > 0 && rng.Next(5) != 0 ? srcs[rng.Next(srcs.Count)] : dst.IsV6 ? new IpAddr((UInt128)rng.NextInt64(), true) : IpAddr.V4((uint)rng.Next());
                    c = c with { Source = src, Destination = dst };
                }
                if (c.Source.IsV6 != c.Destination.IsV6) continue;
                c = ev.ResolveIdentity(c);
                bool hostSource = ev.WorkloadAt(c.Source) is { LendsIdentity: false };
                var expected = ev.Decide(c);
                var actual = interp.Syn(c.Source, c.Destination, c.Port);
                string ctx = $"seed {seed}, node {node}, {c}: reference {expected.Decision} ({expected.Reason}, {expected.Policy?.Key}), image {actual.Action} verdict {actual.Verdict} policy {actual.Policy} {actual.Error}";
                if (expected.Destination is null || expected.Destination.Node != node || !expected.Destination.Enforced)
                {
                    Assert.True(actual.Action == KernelAction.NotEvaluated, ctx);
                    // A workload the mesh does not enforce (host network, not enrolled) passes unevaluated.
                    Assert.True(expected.Destination is null || expected.Destination.Enforced || expected.Decision == Decision.Allow, ctx);
                    if (expected.Destination is { Enforced: false }) notEnforced++;
                    notLocal++;
                    continue;
                }
                evaluated++;
                if (hostSource) hostSources++;
                if (c.SourceIdentity is null) unknown++;
                Assert.True(actual.Error is null, ctx);
                // The decision table (no tail call) and the stages it falls back to agree exactly.
                var staged = stagesOnly.Syn(c.Source, c.Destination, c.Port);
                Assert.True(staged.TailCalls <= Layout.TailCalls && staged.Error is null, ctx);
                Assert.True(actual.TailCalls <= Layout.TailCalls, ctx);
                if (actual.TailCalls == 0 && staged.TailCalls > 0) byTable++;
                Assert.True(staged.Action == actual.Action && staged.Verdict == actual.Verdict && staged.Policy == actual.Policy
                    && staged.PolicyMatched.Order().SequenceEqual(actual.PolicyMatched.Order()), ctx + $" stages: {staged.Action} verdict {staged.Verdict} policy {staged.Policy}");
                Assert.True((expected.Decision == Decision.Allow) == (actual.Action == KernelAction.Pass), ctx);
                uint code = expected.Reason switch
                {
                    Reasons.AllowedByPolicy => Layout.VerdictAllowPolicy,
                    Reasons.NoAllowPolicies => Layout.VerdictAllowNoAllow,
                    Reasons.ExplicitlyDenied => Layout.VerdictDenyPolicy,
                    _ => Layout.VerdictDenyNoneAllow,
                };
                Assert.True(code == actual.Verdict, ctx);
                if (expected.Decision == Decision.Deny) denies++;

                // Every candidate the reference finds matching is counted, and nothing else.
                var cands = ev.Candidates(expected.Destination).DistinctBy(p => p.Key).ToList();
                var matching = cands.Where(p => Evaluator.PolicyMatches(p, c)).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
                var counted = actual.PolicyMatched.Select(id => image.Name(NameKind.Policy, id)!).Order(StringComparer.Ordinal).ToList();
                Assert.True(matching.SequenceEqual(counted), ctx + $"\n  matching {string.Join(",", matching)}\n  counted  {string.Join(",", counted)}");

                // The deciding policy is the first matching enforced one of its action by name.
                if (actual.Policy is { } pid)
                {
                    var action = expected.Reason == Reasons.ExplicitlyDenied ? PolicyAction.Deny : PolicyAction.Allow;
                    string first = cands.Where(p => !p.DryRun && p.Action == action && matching.Contains(p.Key)).Select(p => p.Key).Order(StringComparer.Ordinal).First();
                    Assert.True(first == image.Name(NameKind.Policy, pid), ctx);
                }
            }
        }
        output.WriteLine($"{worlds} worlds, {evaluated} evaluated connections ({denies} denied, {byTable} by the decision table, {hostSources} from host-network addresses, {unknown} without identity), {notLocal} not local ({notEnforced} not enforced), {shared} images with shared blocks");
        Assert.True(hostSources > 0 && notEnforced > 0, "the generator must produce host-network sources and destinations the mesh does not enforce");
        Assert.True(byTable > evaluated / 4 && byTable < evaluated, $"{byTable} of {evaluated} decided by the table: both paths must be exercised");
        Assert.True(evaluated > worlds * 10, $"only {evaluated} evaluated connections");
        Assert.True(denies > evaluated / 20 && denies < evaluated * 19 / 20, $"{denies} of {evaluated} denied: the generator no longer exercises both outcomes");
        return (unknown, shared);
    }

    [Fact]
    public void ImageSelectsTheEndpointsTheReferenceLoadBalancerMakesSelectable()
    {
        int worlds = Cases(300) / 10 + 1, compared = 0, rewritten = 0;
        for (int seed = 1; seed <= worlds; seed++)
        {
            var (world, node, image) = Compile(seed + 100_000, new WorldGenOptions(Workloads: 30, Services: 6));
            var interp = new ImageInterpreter(image);
            var client = LoadBalancer.ClientNode(world, node);
            foreach (var s in world.Services)
                foreach (var sp in s.Ports)
                    foreach (bool v6 in new[] { false, true })
                    {
                        var vips = s.Addresses.Where(a => a.Address.IsV6 == v6).ToList();
                        if (vips.Count == 0) continue;
                        // The reference for one address family: the service as seen through VIPs of that
                        // family, over the workloads that have an address of it.
                        var familyService = s with { Addresses = [.. vips] };
                        var reference = LoadBalancer.Resolve(world.Workloads.Where(w => w.Addresses.Any(a => a.IsV6 == v6)), client, familyService, sp.Port);
                        var expected = reference.Selectable
                            .SelectMany(e => Enumerable.Repeat((e.Address, e.Port), (int)Math.Min(e.Weight, Layout.MaxWeight)))
                            .Order().ToList();
                        foreach (var vip in vips)
                        {
                            var sel = interp.Connect(vip.Address, sp.Port);
                            string ctx = $"seed {seed + 100_000} node {node} {s.Key}:{sp.Port} via {vip.Address} mode {s.LoadBalancing.Mode}";
                            Assert.True(sel.IsService, ctx);
                            var actual = sel.Slots.Select(x => (x.Address, x.Port)).Order().ToList();
                            Assert.True(expected.SequenceEqual(actual), ctx + $"\n  expected {string.Join(" ", expected)}\n  actual   {string.Join(" ", actual)}");
                            Assert.Equal(expected.Count > 0, sel.Rewritten);
                            if (sel.Rewritten)
                            {
                                rewritten++;
                                Assert.Equal(reference.Selectable.First().Priority, sel.Priority);
                            }
                            compared++;
                        }
                    }
        }
        output.WriteLine($"{compared} service addresses compared, {rewritten} rewritten");
        Assert.True(compared > worlds * 2 && rewritten > compared / 5, $"{compared} compared, {rewritten} rewritten");
    }
}
