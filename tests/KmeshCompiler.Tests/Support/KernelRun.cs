using System.Net;
using KmeshCompiler.Image;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Tests.Support;

/// <summary>A connection through the kernel programs, reported in the reference engine's terms.</summary>
public static class KernelRun
{
    public static KernelDecision Decide(DataPlane plane, ImageFile image, Connection c) => Decide(plane, image, new ImageTables(image), c);

    public static KernelDecision Decide(DataPlane plane, ImageFile image, ImageTables tables, Connection c)
    {
        var run = plane.Syn(new IPAddress(c.Source.ToBytes()), new IPAddress(c.Destination.ToBytes()), (ushort)c.Port);
        return KernelDecision.From(image, tables, run.Action == XdpAction.Drop, run.Verdict, run.PolicyId, run.Policies);
    }
}
