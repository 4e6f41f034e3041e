namespace KmeshCompiler.Loader.DataPlane;

/// <summary>The connect-time load balancer of bpf/kmesh_connect.c, loaded privately.</summary>
public sealed class ConnectProgram : IDisposable
{
    public enum Outcome : uint { Rewritten = 0, NoEndpoint = 1, Passthrough = 2, Error = 3 }

    public BpfObject Object { get; }
    public BpfProgram Connect4 => Object.Program("kmesh_connect4");
    public BpfProgram Connect6 => Object.Program("kmesh_connect6");

    private ConnectProgram(BpfObject obj) => Object = obj;

    public static ConnectProgram Load(string? objectPath = null, ObjectLoadOptions? options = null) =>
        new(BpfObject.Load(objectPath ?? BpfObjectFiles.Require(BpfObjectFiles.Connect), options));

    public BpfMap Map(string name) => Object.Map(name);

    public void Fill(IEnumerable<MapContent> tables)
    {
        foreach (var t in tables)
            if (Object.Maps.TryGetValue(t.Name, out var m)) MapWriter.Replace(m, t);
    }

    /// <summary>Attaches connect4 and connect6 to a cgroup v2 directory.</summary>
    public IDisposable AttachCgroup(string cgroupPath)
    {
        var a4 = Connect4.AttachCgroup(cgroupPath, BpfAttachType.CgroupInet4Connect);
        try
        {
            var a6 = Connect6.AttachCgroup(cgroupPath, BpfAttachType.CgroupInet6Connect);
            return new Both(a4, a6);
        }
        catch
        {
            a4.Dispose();
            throw;
        }
    }

    public ulong Count(Outcome o) => PerCpu.Sum(Map("km_lb_stats").LookupPerCpu<uint, ulong>((uint)o));

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose()
        {
            b.Dispose();
            a.Dispose();
        }
    }

    public void Dispose() => Object.Dispose();
}
