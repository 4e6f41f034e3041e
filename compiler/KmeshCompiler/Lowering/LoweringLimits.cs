namespace KmeshCompiler.Lowering;

/// <summary>The limits an image is checked against: the capacities and step budget of
/// bpf/kmesh_tables.h. Tests lower them to probe the checks with small inputs.</summary>
public sealed record LoweringLimits
{
    public static readonly LoweringLimits Kernel = new();

    public uint MaxStageSteps { get; init; } = Layout.MaxStageSteps;

    public int KernelTailCallLimit { get; init; } = Layout.KernelTailCallLimit;

    /// <summary>Capacities by map name; a missing name means the header's capacity.</summary>
    public IReadOnlyDictionary<string, uint> Capacities { get; init; } = new Dictionary<string, uint>();

    /// <summary>A workload's per-port evals may hold at most this many policy-list entries in total
    /// (plus its own policy count times <see cref="PortIndexFactor"/>) before the port index is
    /// dropped for it and every port evaluates all its policies.</summary>
    public int PortIndexBase { get; init; } = 4096;

    public int PortIndexFactor { get; init; } = 8;

    /// <summary>Whether the image carries the decision table (km_decisions) the entry program checks
    /// before the stages. Off, every SYN takes the stages (tests compare both ways).</summary>
    public bool DecisionTables { get; init; } = true;

    /// <summary>KMESH_MAX_EVAL_DECISIONS: an eval whose source partition has more regions has no table.</summary>
    public uint MaxEvalDecisions { get; init; } = Layout.MaxEvalDecisions;

    /// <summary>An eval whose port tests name more ports than this has no decision table (its table
    /// would be one partition per named port).</summary>
    public int MaxDecisionPorts { get; init; } = 64;

    /// <summary>When an eval names more ports than <see cref="MaxDecisionPorts"/>, each address keys the
    /// ports it serves plus this many of the ports the eval's matches name most often; other-ports
    /// entries send the remaining named ports to the stages.</summary>
    public int MaxDecisionBusyPorts { get; init; } = 4;

    /// <summary>Compile-time budget of the decision table, in stage-walk rows (regions decided times
    /// the rows of their eval): once spent, the remaining evals get no table and take the stages.</summary>
    public long MaxDecisionWork { get; init; } = 50_000_000;

    public uint Capacity(MapSpec m) => Capacities.TryGetValue(m.Name, out var c) ? c : m.MaxEntries;
}
