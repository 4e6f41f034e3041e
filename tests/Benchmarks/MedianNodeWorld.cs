using KmeshCompiler.Frontends;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Benchmarks;

/// <summary>The world of the lowering benchmark (100,000 pods, 20,000 policies; its snapshot read from
/// that benchmark's cache, or generated first), its median node, and one-policy changes that change
/// that node's tables: what the loader and serve benchmarks swap.</summary>
public sealed class MedianNodeWorld
{
    public World World { get; }
    public string Node { get; }
    public IReadOnlyList<Workload> LocalPods { get; }

    /// <summary>Three policies of a namespace with a local pod, with their index in the world.</summary>
    public IReadOnlyList<(Policy Policy, int Index)> Candidates { get; }

    public MedianNodeWorld(string? path) : this(Load(path), null)
    {
    }

    /// <summary>A world and one of its nodes (its median node by local pods when null).</summary>
    public MedianNodeWorld(World world, string? node)
    {
        World = world;
        var byNode = World.Workloads.GroupBy(x => x.Node).OrderBy(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        var pick = node is null ? byNode[byNode.Count / 2] : byNode.First(g => g.Key == node);
        Node = pick.Key;
        LocalPods = [.. pick];
        var local = LocalPods.Select(x => x.Namespace).ToHashSet(StringComparer.Ordinal);
        // Policies of a namespace with a local pod: changing one changes this node's tables.
        Candidates = [.. World.Policies.Select((p, i) => (p, i)).Where(t => local.Contains(t.p.Namespace) && t.p.Rules.Length > 0 && !t.p.Rules[0].Clauses.IsEmpty && !t.p.Rules[0].Clauses[0].Matches.IsEmpty).Take(3)];
        if (Candidates.Count < 3) throw new InvalidOperationException($"node {Node}: fewer than three policies of its namespaces with a match to change");
    }

    /// <summary>A world generated in a sub-process format: the snapshot of the lowering benchmark (generated first when missing).</summary>
    private static World Load(string? path)
    {
        path ??= Path.Combine(Path.GetTempPath(), "kmesh-lowering-bench-1-100000-20000-900", "world.pb");
        if (!File.Exists(path))
        {
            Console.WriteLine($"(generating the lowering benchmark's world first: {path})");
            LoweringBench.Run(["--runs", "1", "--e2e-runs", "0"]);
        }
        return InputLoader.Load([path], FrontendSettings.Default).World;
    }

    /// <summary>The world of <c>--world PATH</c>, or of <c>--realistic</c> with the realistic cluster's
    /// options (docs/realistic-clusters.md; its busiest node), or the lowering benchmark's (its median node).</summary>
    public static MedianNodeWorld FromArgs(string[] args)
    {
        string? path = null;
        for (int i = 0; i < args.Length - 1; i++) if (args[i] == "--world") path = args[i + 1];
        if (!args.Contains("--realistic")) return new MedianNodeWorld(path);
        var o = RealisticClusterOptions.Parse([.. args.Where(a => a != "--realistic")], out _, out var error)
            ?? throw new ArgumentException(error ?? "bad realistic cluster options");
        var world = RealisticCluster.Generate(o);
        return new MedianNodeWorld(world, RealisticCluster.BusiestNode(world));
    }

    /// <summary>The world with one pod more on the node: a copy of its first local pod (same namespace,
    /// service account, services and attachments) with its own uid, name and address.</summary>
    public World PodAdded(int k)
    {
        var template = LocalPods[0];
        var pod = template with
        {
            Uid = $"Kubernetes//Pod/{template.Namespace}/bench-pod-{k}",
            Name = $"bench-pod-{k}",
            Addresses = [IpAddr.Parse($"10.250.{k / 250}.{1 + k % 250}")],
        };
        return World with { Workloads = World.Workloads.Add(pod).Sort((a, b) => string.CompareOrdinal(a.Uid, b.Uid)) };
    }

    /// <summary>The world with candidate <paramref name="k"/> changed: a port added to its first match.</summary>
    public World PolicyChanged(int k)
    {
        var (p, i) = Candidates[k];
        var rule = p.Rules[0];
        var clause = rule.Clauses[0];
        var m = clause.Matches[0] with { DestinationPorts = [.. clause.Matches[0].DestinationPorts, 65000u - (uint)k] };
        var changed = p with { Rules = p.Rules.SetItem(0, rule with { Clauses = rule.Clauses.SetItem(0, clause with { Matches = clause.Matches.SetItem(0, m) }) }) };
        return World with { Policies = World.Policies.SetItem(i, changed) };
    }
}
