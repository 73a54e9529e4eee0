# F.batch_norm with training=True and no running statistics: eval mode is wrong and nothing is tracked.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        def bn(layer, t):
            return F.batch_norm(t, None, None, layer.weight, layer.bias, training=True)
        return F.relu(bn(self.bn2, self.conv2(F.relu(bn(self.bn1, self.conv1(x))))) + x)
