using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using Kmeshc.Commands;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The XDP program in the kernel against the reference evaluator: generated worlds, compiled
/// per node, thousands of SYNs (IPv4 and IPv6) whose verdict, reason, deciding policy and dry-run
/// matches must agree (identity resolved by address, as the kernel does).</summary>
public sealed class KernelDifferentialTests(ITestOutputHelper output) : IDisposable
{
    private readonly Lazy<DataPlane> _prog = new(() => DataPlane.Load());

    public void Dispose()
    {
        if (_prog.IsValueCreated) _prog.Value.Dispose();
    }

    private sealed record Stats(int Cases, int V6, int Drops, int Failures, int HostSources = 0);

    private static readonly LoweringLimits StagesOnly = new() { DecisionTables = false };

    private Stats RunWorlds(int seed0, int worlds, WorldGenOptions options, int connectionsPerNode, List<string> failures, int denyOneIn = 0, LoweringLimits? limits = null)
    {
        int cases = 0, v6 = 0, drops = 0, hostSources = 0;
        var lowering = new System.Diagnostics.Stopwatch();
        var kernel = new System.Diagnostics.Stopwatch();
        for (int s = seed0; s < seed0 + worlds && failures.Count < 10; s++)
        {
            var rng = new Random(s);
            var world = WorldGen.World(rng, options with { AttachAnyName = true });
            // Large random policy sets almost always hold a DENY that matches everything; keep one
            // DENY in denyOneIn so that both verdicts stay likely.
            if (denyOneIn > 0)
                world = world with { Policies = [.. world.Policies.Select(p => p.Action == PolicyAction.Deny && rng.Next(denyOneIn) != 0 ? p with { Action = PolicyAction.Allow } : p)] };
            world = world.Canonical();
            var ev = new Evaluator(world);
            foreach (var node in world.Workloads.Select(w => w.Node).Distinct().Order(StringComparer.Ordinal))
            {
                var bag = new DiagnosticBag();
                lowering.Start();
                var image = Lowerer.Lower(world, node, bag, limits);
                lowering.Stop();
                if (image is null) { failures.Add($"seed {s} node {node}: lowering failed: {string.Join("; ", bag.Sorted())}"); continue; }
                _prog.Value.Publish(image);
                var tables = new ImageTables(image);
                int made = 0;
                for (int attempt = 0; attempt < connectionsPerNode * 8 && made < connectionsPerNode; attempt++)
                {
                    var c = WorldGen.Connection(rng, world);
                    var dst = ev.WorkloadAt(c.Destination);
                    if (dst is null || dst.Node != node || c.Source.IsV6 != c.Destination.IsV6) continue;
                    c = ev.ResolveIdentity(c);
                    made++;
                    cases++;
                    if (c.Destination.IsV6) v6++;
                    var want = ev.Decide(c);
                    kernel.Start();
                    var got = KernelRun.Decide(_prog.Value, image, tables, c);
                    kernel.Stop();
                    if (!dst.Enforced)
                    {
                        // Host network or not enrolled: not in the image, so XDP passes it unevaluated.
                        if (got.Evaluated || got.Decision != Decision.Allow || want.Decision != Decision.Allow)
                            failures.Add($"seed {s} node {node} {c.Source} -> {c.Destination}:{c.Port} ({dst.Key}, not enforced): reference {want.Decision}, kernel {got.Decision} evaluated={got.Evaluated}");
                        continue;
                    }
                    if (ev.WorkloadAt(c.Source) is { LendsIdentity: false }) hostSources++;
                    if (got.Decision == Decision.Deny) drops++;
                    string? why = Compare(want, got, c);
                    if (why is not null)
                        failures.Add($"seed {s} node {node} {c.Source} -> {c.Destination}:{c.Port} ({dst.Key}): {why}");
                }
            }
        }
        output.WriteLine($"lowering {lowering.ElapsedMilliseconds} ms, kernel runs {kernel.ElapsedMilliseconds} ms, {hostSources} SYNs from host-network addresses");
        return new Stats(cases, v6, drops, failures.Count, hostSources);
    }

    private static string? Compare(Verdict want, KernelDecision got, Connection c)
    {
        if (want.Decision != got.Decision || want.Reason != got.Reason)
            return $"reference {want.Decision} '{want.Reason}' ({want.Policy?.Key}), kernel {got.Decision} '{got.Reason}' ({got.Policy})";
        if (want.Policy is not null)
        {
            // Both name a matching enforced policy of the deciding action; the kernel names the first
            // by name, the reference the first in candidate order.
            var p = want.Policy;
            if (got.Policy is null) return $"kernel names no policy, reference {p.Key}";
            var named = got.Policies.FirstOrDefault(x => x.Name == got.Policy);
            if (named is null || !named.Matched || named.DryRun || named.Action != p.Action)
                return $"kernel names {got.Policy}, which is not a matched enforced {p.Action} (reference {p.Key})";
        }
        var wantDry = want.DryRun.Where(d => d.Matched).Select(d => d.Policy.Key).Order(StringComparer.Ordinal);
        var gotDry = got.DryRun.Where(d => d.Matched).Select(d => d.Name).Order(StringComparer.Ordinal);
        if (!wantDry.SequenceEqual(gotDry))
            return $"dry-run matches: reference [{string.Join(", ", wantDry)}], kernel [{string.Join(", ", gotDry)}]";
        return null;
    }

    private void Check(Stats st, List<string> failures, int minCases)
    {
        output.WriteLine($"{st.Cases} SYNs ({st.V6} IPv6), {st.Drops} dropped, {failures.Count} disagreements");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(st.Cases >= minCases, $"only {st.Cases} cases were generated");
        Assert.True(st.V6 > 0 && st.Drops > 0 && st.Drops < st.Cases, "the cases must cover IPv6 and both verdicts");
        Assert.True(st.HostSources > 0, "the cases must include host-network sources");
    }

    [KernelFact]
    public void Small_worlds_agree_with_the_reference()
    {
        var failures = new List<string>();
        var st = RunWorlds(1000, 250, new WorldGenOptions(), 6, failures);
        Check(st, failures, 2000);
    }

    [KernelFact]
    public void Small_worlds_agree_with_the_reference_through_the_stages_alone()
    {
        // The same worlds without decision tables: every SYN takes the four tail-call stages.
        var failures = new List<string>();
        var st = RunWorlds(1000, 250, new WorldGenOptions(), 6, failures, limits: StagesOnly);
        Check(st, failures, 2000);
    }

    [KernelFact]
    public void Small_worlds_agree_with_the_reference_when_named_ports_go_to_the_stages()
    {
        // One keyed port at most: other-ports entries carry the rest of the named ports as stage
        // ports, which the entry must send to the stages.
        var failures = new List<string>();
        var st = RunWorlds(3000, 100, new WorldGenOptions(), 6, failures, limits: new LoweringLimits { MaxDecisionPorts = 1, MaxDecisionBusyPorts = 0 });
        Check(st, failures, 800);
    }

    /// <summary>Policies on identity: principals and notPrincipals "*", namespace globs, exact
    /// principals, negations, many service accounts, a third mesh-wide (shared blocks).</summary>
    private static readonly WorldGenOptions IdentityHeavy = new(Namespaces: 5, Workloads: 30, Policies: 25, IdentityHeavy: true);

    [KernelFact]
    public void Identity_heavy_worlds_agree_with_the_reference()
    {
        var failures = new List<string>();
        var st = RunWorlds(7000, 120, IdentityHeavy, 8, failures);
        Check(st, failures, 800);
    }

    [KernelFact]
    public void Identity_heavy_worlds_agree_with_the_reference_through_the_stages_alone()
    {
        var failures = new List<string>();
        var st = RunWorlds(7000, 120, IdentityHeavy, 8, failures, limits: StagesOnly);
        Check(st, failures, 800);
    }

    private static readonly WorldGenOptions Large = new(Namespaces: 2, Nodes: 2, Workloads: 16, Policies: 300, MaxRulesPerPolicy: 3,
        MaxClausesPerRule: 3, MaxMatchesPerClause: 3, MaxListLength: 40);

    [KernelFact]
    public void Workloads_with_hundreds_of_policies_and_long_lists_agree_with_the_reference()
    {
        var failures = new List<string>();
        var st = RunWorlds(5000, 6, Large, 40, failures, denyOneIn: 30);
        Check(st, failures, 300);
    }

    [KernelFact]
    public void Workloads_with_hundreds_of_policies_agree_with_the_reference_through_the_stages_alone()
    {
        var failures = new List<string>();
        var st = RunWorlds(5000, 6, Large, 40, failures, denyOneIn: 30, limits: StagesOnly);
        Check(st, failures, 300);
    }
}
