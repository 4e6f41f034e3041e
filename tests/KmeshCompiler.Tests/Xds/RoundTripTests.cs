using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Xds;

public class RoundTripTests
{
    internal static World Read(byte[] bytes, string path, out DiagnosticBag bag)
    {
        bag = new DiagnosticBag();
        return XdsFrontend.Read(new SourceText(path, bytes), FrontendSettings.Default, bag);
    }

    private static void AssertRoundTrip(World world, SnapshotFormat format)
    {
        var bytes = SnapshotWriter.Write(world, format);
        var back = Read(bytes, format == SnapshotFormat.Binary ? "w.pb" : "w.json", out var bag);
        Assert.DoesNotContain(bag.Items, d => d.Severity > Severity.Info);
        Assert.Null(IrEquality.FirstDifference(world.Canonical(), back));
        // snapshot → IR → snapshot: the same bytes.
        Assert.Equal(bytes, SnapshotWriter.Write(back, format));
    }

    [Theory]
    [InlineData(SnapshotFormat.Binary)]
    [InlineData(SnapshotFormat.Json)]
    public void Rich_world_round_trips(SnapshotFormat format) => AssertRoundTrip(XdsWorlds.Rich(), format);

    [Theory]
    [InlineData(SnapshotFormat.Binary)]
    [InlineData(SnapshotFormat.Json)]
    public void Empty_world_round_trips(SnapshotFormat format) => AssertRoundTrip(World.Empty, format);

    [Fact]
    public void Random_worlds_round_trip_in_both_formats()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var w = XdsWorlds.Random(new Random(seed));
            foreach (var f in new[] { SnapshotFormat.Binary, SnapshotFormat.Json })
            {
                var bytes = SnapshotWriter.Write(w, f);
                var back = Read(bytes, f == SnapshotFormat.Binary ? "w.pb" : "w.json", out var bag);
                Assert.False(bag.Items.Any(d => d.Severity > Severity.Info), $"seed {seed} {f}: {string.Join("; ", bag.Items)}");
                Assert.True(IrEquality.Equal(w, back), $"seed {seed} {f}: {IrEquality.FirstDifference(w, back)}");
                Assert.True(bytes.AsSpan().SequenceEqual(SnapshotWriter.Write(back, f)), $"seed {seed} {f}: bytes differ after a round trip");
            }
        }
    }

    [Fact]
    public void Writing_is_deterministic_whatever_the_input_order()
    {
        var w = XdsWorlds.Random(new Random(7), workloads: 30);
        var shuffled = w with { Workloads = [.. w.Workloads.Reverse()], Policies = [.. w.Policies.Reverse()], Services = [.. w.Services.Reverse()] };
        Assert.Equal(SnapshotWriter.Write(w, SnapshotFormat.Binary), SnapshotWriter.Write(shuffled, SnapshotFormat.Binary));
        Assert.Equal(SnapshotWriter.Write(w, SnapshotFormat.Json), SnapshotWriter.Write(shuffled, SnapshotFormat.Json));
    }
}

public class WorldGenRoundTripTests
{
    /// <summary>Property: for generated worlds, world → snapshot → IR gives the world back, in both
    /// formats, and the bytes are stable. Nodes and namespaces are not on the wire, so the world
    /// compared is the generated one with the nodes and namespaces its snapshot implies.</summary>
    [Fact]
    public void Generated_worlds_round_trip()
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var rng = new Random(seed);
            var w = XdsWorlds.WithDerivedNodesAndNamespaces(Support.WorldGen.World(rng, seed % 3 == 0 ? new Support.WorldGenOptions(Workloads: 30, Policies: 15, Ipv6: seed % 2 == 0) : null));
            foreach (var f in new[] { SnapshotFormat.Binary, SnapshotFormat.Json })
            {
                var bytes = SnapshotWriter.Write(w, f);
                var back = RoundTripTests.Read(bytes, f == SnapshotFormat.Binary ? "w.pb" : "w.json", out var bag);
                Assert.False(bag.Items.Any(d => d.Severity > Severity.Info), $"seed {seed} {f}: {string.Join("; ", bag.Items)}");
                Assert.True(IrEquality.Equal(w, back), $"seed {seed} {f}: {IrEquality.FirstDifference(w, back)}");
                Assert.True(bytes.AsSpan().SequenceEqual(SnapshotWriter.Write(back, f)), $"seed {seed} {f}: bytes differ after a round trip");
            }
        }
    }
}
