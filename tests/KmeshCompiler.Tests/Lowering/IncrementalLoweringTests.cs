using KmeshCompiler.Abi;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;
using Xunit.Abstractions;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>The incremental compiler (docs/incremental.md) gives the image a full compile of the same
/// world gives, byte for byte, with the same diagnostics, over seeded random update sequences.</summary>
public class IncrementalLoweringTests(ITestOutputHelper output)
{
    /// <summary>Runs <paramref name="steps"/> updates from a generated world and compares every state.</summary>
    private void Sequence(int seed, int steps, WorldGenOptions options, LoweringLimits? limits = null)
    {
        var rng = new Random(seed);
        var world = WorldGen.World(rng, options);
        var pool = WorldGen.World(new Random(seed + 1_000_000), options);
        var mutate = new WorldSteps(rng, pool);
        string node = world.Workloads.GroupBy(w => w.Node).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
        var inc = new IncrementalLowerer(node, limits);
        int reusedSteps = 0, failed = 0;
        var kinds = new Dictionary<string, int>();
        var reuses = new Dictionary<string, int>();
        var codes = new Dictionary<string, int>();
        for (int step = 0; step <= steps; step++)
        {
            string kind = "initial";
            if (step > 0) (world, kind) = mutate.Next(world);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            // Now and then a state out of canonical order (two workloads or policies swapped): both
            // compilers must sort it, the incremental one must notice.
            var given = world;
            if (step > 0 && rng.Next(25) == 0 && world.Workloads.Length > 2)
            {
                int i = rng.Next(world.Workloads.Length - 1);
                given = world with { Workloads = world.Workloads.SetItem(i, world.Workloads[i + 1]).SetItem(i + 1, world.Workloads[i]) };
                kind += " (unsorted)";
            }
            else if (step > 0 && rng.Next(25) == 0 && world.Policies.Length > 2)
            {
                int i = rng.Next(world.Policies.Length - 1);
                given = world with { Policies = world.Policies.SetItem(i, world.Policies[i + 1]).SetItem(i + 1, world.Policies[i]) };
                kind += " (unsorted)";
            }
            var fullBag = new DiagnosticBag();
            var full = Lowerer.Lower(given, node, fullBag, limits);
            var incBag = new DiagnosticBag();
            var got = inc.Lower(given, incBag);
            if (inc.Reused.Count > 0) reusedSteps++;
            foreach (var r in inc.Reused) reuses[r] = reuses.GetValueOrDefault(r) + 1;
            Assert.True(Render(fullBag) == Render(incBag), $"seed {seed}, step {step} ({kind}): diagnostics differ\nfull:\n{Render(fullBag)}\nincremental:\n{Render(incBag)}");
            foreach (var d in fullBag.Items) codes[d.Code] = codes.GetValueOrDefault(d.Code) + 1;
            if (full is null) { Assert.Null(got); failed++; continue; }
            Assert.NotNull(got);
            var a = full.ToBytes();
            var b = got.ToBytes();
            Assert.Equal(ImageFile.ContentHashOf(b), got.ContentHash());
            if (!a.AsSpan().SequenceEqual(b))
            {
                var ta = Image.ImageText.Render(full).Split('\n');
                var tb = Image.ImageText.Render(got).Split('\n');
                int i = 0;
                while (i < Math.Min(ta.Length, tb.Length) && ta[i] == tb[i]) i++;
                Assert.Fail($"seed {seed}, step {step} ({kind}): the incremental image differs from the full compile at line {i + 1}:\nfull:        {(i < ta.Length ? ta[i] : "(end)")}\nincremental: {(i < tb.Length ? tb[i] : "(end)")}\nreused: {string.Join(", ", inc.Reused)}");
            }
        }
        output.WriteLine($"seed {seed}: {steps} steps on node {node}, {reusedSteps} compiles reused something, {failed} did not compile; {string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}");
        output.WriteLine("diagnostics seen: " + string.Join(", ", codes.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        output.WriteLine("reused: " + string.Join(", ", reuses.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        Assert.True(reusedSteps > steps / 4, $"only {reusedSteps} of {steps} compiles reused anything: the test does not exercise the incremental paths");
        // Every way of reusing happened (patched indexes included), or the test proves less than it says.
        foreach (var piece in new[] { "address index", "address index (patched)", "policy index", "policy index (patched)", "identities", "identities (patched)", "load balancing", "load balancing (updated)", "decisions" })
            Assert.True(reuses.GetValueOrDefault(piece) > 0, $"seed {seed}: no compile reused the {piece}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Incremental_and_full_compiles_give_the_same_image_over_random_updates(int seed) =>
        Sequence(seed, 700, new WorldGenOptions(Namespaces: 4, Nodes: 3, Workloads: 40, Services: 8, Policies: 16));

    [Fact]
    public void Identity_heavy_worlds_with_mesh_wide_policies() =>
        Sequence(11, 700, new WorldGenOptions(Namespaces: 5, Nodes: 2, Workloads: 40, Services: 6, Policies: 20, IdentityHeavy: true));

    [Fact]
    public void States_that_do_not_fit_fail_alike_and_the_next_state_compiles_alike() =>
        // Small tables: some states overflow (no image), the following ones must still match.
        Sequence(21, 400, new WorldGenOptions(Namespaces: 3, Nodes: 2, Workloads: 30, Services: 6, Policies: 14),
            LoweringLimits.Kernel with { Capacities = new Dictionary<string, uint> { [Layout.MapMatches] = 70, [Layout.MapIdentities] = 44 } });

    [Fact]
    public void Named_ports_left_to_the_stages_keep_their_set_across_compiles() =>
        // One keyed port per address: most evals send their other named ports to the stages through
        // a port set the decision table numbers anew on every compile.
        Sequence(31, 400, new WorldGenOptions(Namespaces: 4, Nodes: 2, Workloads: 30, Services: 6, Policies: 16),
            LoweringLimits.Kernel with { MaxDecisionPorts = 1, MaxDecisionBusyPorts = 0 });

    [Fact]
    public void A_world_given_twice_reuses_every_piece()
    {
        var world = WorldGen.World(new Random(5), new WorldGenOptions());
        string node = world.Workloads.First(w => w.Enforced).Node;
        var inc = new IncrementalLowerer(node);
        var first = inc.Lower(world, new DiagnosticBag())!.ToBytes();
        Assert.Empty(inc.Reused);
        var second = inc.Lower(world, new DiagnosticBag())!.ToBytes();
        Assert.Equal(first, second);
        Assert.Equal(["policy index", "address index", "identities", "load balancing", "decisions"], inc.Reused);
    }

    private static string Render(DiagnosticBag bag) => string.Join("\n", bag.Items.Select(d => d.ToString()).Order(StringComparer.Ordinal));
}
