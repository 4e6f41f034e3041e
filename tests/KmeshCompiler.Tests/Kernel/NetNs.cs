using System.Net;
using KmeshCompiler.Loader;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A network namespace for a test. Code runs inside it on a dedicated thread that enters the
/// namespace with setns(2) (a thread's network namespace decides where its sockets live and which
/// interfaces netlink sees), so sockets and XDP attachments can be made from the test process.</summary>
public sealed class NetNs : IDisposable
{
    public string Name { get; }

    public NetNs(string prefix = "kmt")
    {
        Name = $"{prefix}-{Environment.ProcessId % 100000}-{Random.Shared.Next(100000)}";
        KernelEnvironment.Run("ip", "netns", "add", Name);
        Ip("link", "set", "lo", "up");
    }

    public void Ip(params string[] args) => KernelEnvironment.Run("ip", ["-n", Name, .. args]);

    /// <summary>Runs <paramref name="f"/> on a thread inside this namespace.</summary>
    public T Run<T>(Func<T> f) => NetworkNamespace.Run($"/var/run/netns/{Name}", f);

    public void Run(Action a) => Run(() => { a(); return 0; });

    public void Dispose()
    {
        try { KernelEnvironment.Run("ip", "netns", "del", Name); } catch (InvalidOperationException) { }
    }
}

/// <summary>Two namespaces joined by a veth pair: A (10.201.x.1, fd00:201:x::1) and B (.2, ::2).</summary>
public sealed class VethPair : IDisposable
{
    public NetNs A { get; } = new("kmta");
    public NetNs B { get; } = new("kmtb");
    public string IfA => "veth-a";
    public string IfB => "veth-b";
    public IPAddress A4 { get; }
    public IPAddress B4 { get; }
    public IPAddress A6 { get; }
    public IPAddress B6 { get; }

    public VethPair()
    {
        int x = Random.Shared.Next(1, 250);
        A4 = IPAddress.Parse($"10.201.{x}.1");
        B4 = IPAddress.Parse($"10.201.{x}.2");
        A6 = IPAddress.Parse($"fd00:201:{x:x}::1");
        B6 = IPAddress.Parse($"fd00:201:{x:x}::2");
        string tmp = $"kmv{Random.Shared.Next(1000000)}";
        KernelEnvironment.Run("ip", "link", "add", tmp + "a", "type", "veth", "peer", "name", tmp + "b");
        KernelEnvironment.Run("ip", "link", "set", tmp + "a", "netns", A.Name, "name", IfA);
        KernelEnvironment.Run("ip", "link", "set", tmp + "b", "netns", B.Name, "name", IfB);
        foreach (var (ns, ifn, v4, v6) in new[] { (A, IfA, A4, A6), (B, IfB, B4, B6) })
        {
            ns.Ip("addr", "add", $"{v4}/24", "dev", ifn);
            ns.Ip("addr", "add", $"{v6}/64", "dev", ifn, "nodad");
            ns.Ip("link", "set", ifn, "up");
        }
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}
