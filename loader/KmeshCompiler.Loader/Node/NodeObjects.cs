namespace KmeshCompiler.Loader.Node;

/// <summary>Every map and program of a node's data plane (loader/README.md, "Pinned objects"):
/// loaded from bpf/kmesh_xdp.o and bpf/kmesh_connect.o (which share km_active), or opened from the
/// pins of an earlier load. Either way every map is checked against the layout before use.</summary>
public sealed class NodeObjects : IDisposable
{
    private readonly Dictionary<string, BpfMap> _maps;
    private readonly Dictionary<string, BpfProgram> _programs;
    private readonly List<IDisposable> _owned;

    private NodeObjects(Dictionary<string, BpfMap> maps, Dictionary<string, BpfProgram> programs, List<IDisposable> owned)
    {
        _maps = maps;
        _programs = programs;
        _owned = owned;
    }

    public IReadOnlyDictionary<string, BpfMap> Maps => _maps;
    public IReadOnlyDictionary<string, BpfProgram> Programs => _programs;

    public BpfMap Map(string name) =>
        _maps.TryGetValue(name, out var m) ? m : throw new BpfException($"find map {name}", Errno.ENOENT);

    /// <summary>The copy of a map for a generation slot (the map itself when it is not per generation).</summary>
    public BpfMap Map(MapSpec spec, int slot) => Map(spec.In(slot));

    public BpfProgram Program(string name) =>
        _programs.TryGetValue(name, out var p) ? p : throw new BpfException($"find program {name}", Errno.ENOENT);

    /// <summary>The name and declaration of every map a node has, per-generation ones once per slot,
    /// and km_rcu.</summary>
    public static IEnumerable<(string Name, MapSpec Spec)> Expected()
    {
        foreach (var spec in Layout.ImageMaps.Concat(Layout.NodeMaps))
        {
            if (spec.PerGeneration)
                for (int slot = 0; slot < Layout.Generations; slot++) yield return (spec.In(slot), spec);
            else yield return (spec.Name, spec);
        }
        yield return (Layout.MapRcu, RcuSpec);
    }

    /// <summary>km_rcu: an array of one map, written only to wait for the programs that run (every
    /// update of a map-in-map waits for an RCU grace period before it returns).</summary>
    public static readonly MapSpec RcuSpec = new(Layout.MapRcu, BpfMapType.ArrayOfMaps, sizeof(uint), sizeof(uint), 1, 0);

    /// <summary>Loads the programs and creates their maps, unpinned (a private data plane, or the
    /// first load of a node before its objects are pinned).</summary>
    public static NodeObjects Load()
    {
        var owned = new List<IDisposable>();
        try
        {
            var xdp = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Xdp));
            owned.Add(xdp);
            var reuse = new ObjectLoadOptions();
            reuse.ReuseMaps[Layout.MapActive] = xdp.Map(Layout.MapActive);
            var connect = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Connect), reuse);
            owned.Add(connect);
            var maps = new Dictionary<string, BpfMap>(StringComparer.Ordinal);
            var programs = new Dictionary<string, BpfProgram>(StringComparer.Ordinal);
            foreach (var obj in new[] { xdp, connect })
            {
                foreach (var (name, m) in obj.Maps) if (name.StartsWith("km_", StringComparison.Ordinal)) maps.TryAdd(name, m);
                foreach (var (name, p) in obj.Programs) programs[name] = p;
            }
            var template = BpfMap.Create(BpfMapType.Array, "km_rcu_inner", sizeof(uint), sizeof(uint), 1);
            owned.Add(template);
            var rcu = BpfMap.Create(BpfMapType.ArrayOfMaps, Layout.MapRcu, sizeof(uint), sizeof(uint), 1, innerMap: template);
            owned.Add(rcu);
            maps[Layout.MapRcu] = rcu;
            var progs = maps[Layout.MapProgs];
            for (uint i = 0; i < Node.Programs.Stages.Length; i++) progs.SetProgram(i, programs[Node.Programs.Stages[i]]);
            var objects = new NodeObjects(maps, programs, owned);
            objects.Verify("the loaded programs");
            return objects;
        }
        catch
        {
            foreach (var o in Enumerable.Reverse(owned)) o.Dispose();
            throw;
        }
    }

    /// <summary>Opens every pinned object of <paramref name="dir"/>; a missing or different one is a
    /// <see cref="LoaderException"/> (never recreated silently).</summary>
    public static NodeObjects OpenPinned(string dir)
    {
        var owned = new List<IDisposable>();
        var maps = new Dictionary<string, BpfMap>(StringComparer.Ordinal);
        var programs = new Dictionary<string, BpfProgram>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, _) in Expected())
            {
                var m = BpfMap.OpenPinned(Pinned(dir, name));
                owned.Add(m);
                maps[name] = m;
            }
            foreach (var name in Node.Programs.All)
            {
                var p = BpfProgram.OpenPinned(Pinned(dir, name));
                owned.Add(p);
                programs[name] = p;
            }
            var objects = new NodeObjects(maps, programs, owned);
            objects.Verify(dir);
            return objects;
        }
        catch
        {
            foreach (var o in Enumerable.Reverse(owned)) o.Dispose();
            throw;
        }
    }

    /// <summary>The path of a pin that must exist.</summary>
    private static string Pinned(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        if (!File.Exists(path))
            throw new LoaderException(LoaderError.PinMismatch, $"{path} is missing: the pin directory is incomplete (`kmeshc unload --pin-dir {dir}` removes it, the next load recreates it)");
        return path;
    }

    /// <summary>Checks every map against its declaration: type, key and value size, max entries, flags.</summary>
    private void Verify(string where)
    {
        foreach (var (name, spec) in Expected())
        {
            if (!_maps.TryGetValue(name, out var m))
                throw new LoaderException(LoaderError.PinMismatch, $"{where}: map {name} is missing");
            var k = m.KernelInfo();
            if (k.Type != spec.Type || k.KeySize != spec.KeySize || k.ValueSize != spec.ValueSize || (uint)k.MaxEntries != spec.MaxEntries || (uint)k.Flags != spec.Flags)
                throw new LoaderException(LoaderError.PinMismatch,
                    $"{where}: map {name} is {k.Type}, key {k.KeySize}, value {k.ValueSize}, {k.MaxEntries} entries, flags {(uint)k.Flags:x}; " +
                    $"this kmeshc needs {spec.Type}, key {spec.KeySize}, value {spec.ValueSize}, {spec.MaxEntries} entries, flags {spec.Flags:x} " +
                    "(pinned by another version: unload it first)");
        }
        foreach (var name in Node.Programs.All)
            if (!_programs.ContainsKey(name)) throw new LoaderException(LoaderError.PinMismatch, $"{where}: program {name} is missing");
    }

    /// <summary>Pins every map and program into <paramref name="dir"/> (an empty directory on bpffs).</summary>
    public void Pin(string dir, Action? afterEachPin = null)
    {
        foreach (var (name, _) in Expected())
        {
            _maps[name].Pin(Path.Combine(dir, name));
            afterEachPin?.Invoke();
        }
        foreach (var name in Node.Programs.All)
        {
            _programs[name].Pin(Path.Combine(dir, name));
            afterEachPin?.Invoke();
        }
    }

    public void Dispose()
    {
        foreach (var o in Enumerable.Reverse(_owned)) o.Dispose();
        _owned.Clear();
    }
}
