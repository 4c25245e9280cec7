import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only. Its own main() binds
 * Jetty's `new Server(port)`, which listens on every interface, and offers no
 * host option; so this builds the server the way main() does, sets the host
 * of its one Jetty connector, then starts it. Telemetry is never configured
 * (main() is what would), and the arguments are DynamoDB Local's own.
 */
public class LoopbackDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind to 127.0.0.1");
    for (Connector connector : connectors) {
      // Refuse to start rather than listen on every interface.
      if (!(connector instanceof ServerConnector)) throw new IllegalStateException("cannot bind " + connector + " to 127.0.0.1");
      ((ServerConnector) connector).setHost("127.0.0.1");
    }
    proxy.start();
  }
}
