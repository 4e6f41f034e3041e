using System.Collections.Immutable;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Compiles one node's image state after state (docs/incremental.md): each compile gives
/// exactly the image <see cref="Lowerer.Lower(World, string, DiagnosticBag, LoweringLimits?)"/> gives
/// for the same world, byte for byte, but reuses what the previous compile computed from the parts
/// of the world that did not change. The parts are compared by reference: the front ends and the
/// xDS state keep the objects of resources that did not change, so an update to one policy or one
/// workload leaves every other part the same object. Not thread-safe: one compile at a time.</summary>
public sealed class IncrementalLowerer(string node, LoweringLimits? limits = null)
{
    private readonly LoweringMemo _memo = new();

    public string Node { get; } = node;

    /// <summary>The image of <paramref name="world"/> (null with errors in <paramref name="bag"/>, as
    /// <see cref="Lowerer"/>). A compile that fails leaves the memo describing its world all the
    /// same: what is kept depends on the world, not on the outcome.</summary>
    public ImageFile? Lower(World world, DiagnosticBag bag, out LoweringStats? stats)
    {
        _memo.BeginCompile();
        var image = Lowerer.Lower(world, Node, bag, limits, _memo, out stats);
        _memo.EndCompile();
        return image;
    }

    public ImageFile? Lower(World world, DiagnosticBag bag) => Lower(world, bag, out _);

    /// <summary>What the last compile reused, in words (for logs and benchmarks).</summary>
    public IReadOnlyList<string> Reused => _memo.Reused;

    /// <summary>The last compile's evals whose decision rows were reused, and those computed.</summary>
    public (int Reused, int Computed) DecisionEvals => (_memo.Decisions.Reused, _memo.Decisions.Computed);
}

/// <summary>What one node's compiles keep between them, each piece with the inputs it was computed
/// from. A piece is reused only when its inputs are the same objects; anything else recomputes it.</summary>
internal sealed class LoweringMemo
{
    private readonly List<string> _reused = [];
    public IReadOnlyList<string> Reused => _reused;

    public void BeginCompile()
    {
        _reused.Clear();
        Decisions.ResetCounts();
    }

    public void EndCompile()
    {
        if (Decisions.Reused > 0) _reused.Add("decisions");
        // Matches the last compile did not ask for are dropped: the cache follows the world.
        (_matches, _matchesNext) = (_matchesNext, _matches);
        _matchesNext.Clear();
    }

    // Arrays already known to be in canonical order.
    private object? _namespaces, _nodes, _workloads, _services, _policies;

    private static object? Ref<T>(ImmutableArray<T> a) => ImmutableCollectionsMarshal.AsArray(a);

    public bool Checked<T>(ImmutableArray<T> a)
    {
        var r = Ref(a);
        return r is not null && (ReferenceEquals(r, _namespaces) || ReferenceEquals(r, _nodes) || ReferenceEquals(r, _workloads)
            || ReferenceEquals(r, _services) || ReferenceEquals(r, _policies));
    }

    /// <summary>Whether <paramref name="now"/> is in order, known from the previous compile's array of
    /// the same kind (in order) when few items changed: every adjacent pair with a new item is
    /// compared, the others are old items in their old order. Null when not known that way.</summary>
    public bool? SortedFrom<T>(ImmutableArray<T> now, Comparison<T> compare, int max = 256) where T : class
    {
        if (Ref(now) is null) return null;
        T[]? before = (_namespaces as T[]) ?? (_nodes as T[]) ?? (_workloads as T[]) ?? (_services as T[]) ?? (_policies as T[]);
        if (before is null) return null;
        return SortedDiff<T>.Of(ImmutableCollectionsMarshal.AsImmutableArray(before), now, compare, max)?.InOrder(now, compare);
    }

    public void Canonical(World w)
    {
        _namespaces = Ref(w.Namespaces);
        _nodes = Ref(w.Nodes);
        _workloads = Ref(w.Workloads);
        _services = Ref(w.Services);
        _policies = Ref(w.Policies);
    }

    private (ImmutableArray<Policy> Key, Lowerer.PolicyIndex? Index) _policyIndex;

    public Lowerer.PolicyIndex Policies(ImmutableArray<Policy> policies)
    {
        var (before, known) = _policyIndex;
        _policyIndex = default;
        if (known is not null && !before.IsDefault)
        {
            if (ReferenceEquals(Ref(policies), Ref(before)))
            {
                _reused.Add("policy index");
                _policyIndex = (policies, known);
                return known;
            }
            if (known.Patch(before, policies))
            {
                _reused.Add("policy index (patched)");
                _policyIndex = (policies, known);
                return known;
            }
        }
        var index = new Lowerer.PolicyIndex(policies);
        _policyIndex = (policies, index);
        return index;
    }

    private (ImmutableArray<Workload> Key, Lowerer.AddressIndex? Index) _addressIndex;

    public Lowerer.AddressIndex Addresses(ImmutableArray<Workload> workloads)
    {
        if (_addressIndex.Index is { } known && !_addressIndex.Key.IsDefault)
        {
            if (ReferenceEquals(Ref(workloads), Ref(_addressIndex.Key)))
            {
                _reused.Add("address index");
                return known;
            }
            // The old index is given up either way: patched into the new one, or replaced.
            var before = _addressIndex.Key;
            _addressIndex = default;
            if (known.Patch(before, workloads) is { } patched)
            {
                _reused.Add(ReferenceEquals(patched.Identity, known.Identity) ? "address index (patched)" : "address index (patched, identities rebuilt)");
                _addressIndex = (workloads, patched);
                return patched;
            }
        }
        var index = Lowerer.AddressIndex.Build(workloads);
        _addressIndex = (workloads, index);
        return index;
    }

    // Lowered matches, for the identities they were computed with.
    private IdentityLowering? _matchIdentity;
    private Dictionary<Match, Lowerer.MatchContent> _matches = new(ReferenceEqualityComparer.Instance);
    private Dictionary<Match, Lowerer.MatchContent> _matchesNext = new(ReferenceEqualityComparer.Instance);

    public Lowerer.MatchContent MatchContent(Match m, IdentityLowering identity)
    {
        if (!ReferenceEquals(identity, _matchIdentity))
        {
            _matches.Clear();
            _matchesNext.Clear();
            _matchIdentity = identity;
        }
        if (!_matchesNext.TryGetValue(m, out var c))
        {
            if (!_matches.TryGetValue(m, out c)) c = Lowerer.MatchContent.Of(m, identity);
            _matchesNext[m] = c;
        }
        return c;
    }

    private (ImmutableArray<Service> Services, ImmutableArray<Workload> Workloads, ImmutableArray<Node> Nodes, LoadBalancingTables? Tables) _lb;

    /// <summary>The service tables of <paramref name="w"/>: the previous ones when the services,
    /// workloads and nodes are the same arrays, else the previous ones updated (or built anew).</summary>
    public LoadBalancingTables LoadBalancing(World w, string node)
    {
        var (services, workloads, nodes, known) = _lb;
        _lb = default;
        LoadBalancingTables tables;
        if (known is not null && ReferenceEquals(Ref(w.Services), Ref(services)) && ReferenceEquals(Ref(w.Workloads), Ref(workloads)) && ReferenceEquals(Ref(w.Nodes), Ref(nodes)))
        {
            _reused.Add("load balancing");
            tables = known;
        }
        else if (known?.Update(w) is { } updated)
        {
            _reused.Add("load balancing (updated)");
            tables = updated;
        }
        else tables = LoadBalancingTables.Build(w, node);
        _lb = (w.Services, w.Workloads, w.Nodes, tables);
        return tables;
    }

    private IdentityTable? _identities;

    /// <summary>The decision rows of the previous compile's evals.</summary>
    public DecisionMemo Decisions { get; } = new();

    /// <summary>km_identities: the previous table when its addresses and sets are the same, the
    /// previous one patched when the address index was patched from its index, else null (build).</summary>
    public IdentityTable? Identities(IdentityTable.Inputs inputs, Lowerer.AddressIndex addresses)
    {
        var known = _identities;
        _identities = null;
        if (known is null) return null;
        if (ReferenceEquals(known.Addresses, addresses) && known.Of.SameSets(inputs))
        {
            _reused.Add("identities");
            return _identities = known;
        }
        if (known.Patch(inputs, addresses) is { } patched)
        {
            _reused.Add("identities (patched)");
            return _identities = patched;
        }
        return null;
    }

    public void IdentitiesBuilt(IdentityTable table) => _identities = table;
}
