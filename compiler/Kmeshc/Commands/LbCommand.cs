using System.CommandLine;

namespace Kmeshc.Commands;

public static class LbCommand
{
    public static Command Create()
    {
        var cmd = new Command("lb", "TODO");
        return cmd;
    }
}
